/* metrics.c: the process-global metrics registry and its Prometheus text exposition (0.0.4).
 *
 * Families (one name, one type, one help) are kept sorted by name; each holds its series sorted by
 * label string, so the exposition is stable whatever order threads created them in. Series are
 * allocated one by one and never move: callers keep the pointers until metrics_shutdown().
 * The mutex guards the family and series arrays only; values are atomics updated without it.
 */
#include "metrics.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "log.h"

#define METRICS_PREFIX "ocppgw_"

const double METRICS_LATENCY_SECONDS[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                          0.1,    0.25,  0.5,    1,     2.5,  5,     10};
const size_t METRICS_LATENCY_SECONDS_N =
    sizeof(METRICS_LATENCY_SECONDS) / sizeof(METRICS_LATENCY_SECONDS[0]);

typedef enum {
    METRICS_TYPE_COUNTER,
    METRICS_TYPE_GAUGE,
    METRICS_TYPE_HISTOGRAM,
} metrics_type_t;

struct metrics_counter {
    _Atomic uint64_t value;
};

struct metrics_gauge {
    _Atomic int64_t value;
};

struct metrics_histogram {
    size_t nbounds;
    double *bounds;
    _Atomic uint64_t *buckets; /* nbounds + 1, the last one is +Inf; not cumulative */
    _Atomic uint64_t sum_bits; /* the double sum, updated by compare-and-swap */
};

typedef struct {
    char *labels; /* "" when the series has no labels */
    void *metric; /* metrics_counter_t, metrics_gauge_t or metrics_histogram_t */
} metrics_series_t;

typedef struct {
    char *name;
    char *help;
    metrics_type_t type;
    double (*collect)(void); /* set for process metrics: value read at render, no series */
    bool unprefixed;         /* the standard process_* names, exported without "ocppgw_" */
    metrics_series_t *series;
    size_t nseries;
    size_t cap;
} metrics_family_t;

static struct {
    pthread_mutex_t lock;
    metrics_family_t *families;
    size_t nfamilies;
    size_t cap;
    bool process_registered;
} s_registry = {.lock = PTHREAD_MUTEX_INITIALIZER};

static const char *type_name(metrics_type_t type)
{
    switch (type) {
    case METRICS_TYPE_COUNTER:
        return "counter";
    case METRICS_TYPE_GAUGE:
        return "gauge";
    case METRICS_TYPE_HISTOGRAM:
        return "histogram";
    }
    return "untyped";
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n, size);
    if (!p) {
        abort();
    }
    return p;
}

static char *xstrdup(const char *s)
{
    char *p = strdup(s);
    if (!p) {
        abort();
    }
    return p;
}

static void *xreallocarray(void *p, size_t n, size_t size)
{
    void *q = reallocarray(p, n, size);
    if (!q) {
        abort();
    }
    return q;
}

/* Programmer error: unlock first so the logger may use the registry, then stop. */
static void misuse(const char *what, const char *name)
{
    pthread_mutex_unlock(&s_registry.lock);
    log_error("metrics: %s: %s", what, name ? name : "(null)");
    abort();
}

static bool name_valid(const char *name)
{
    if (!name || !*name) {
        return false;
    }
    for (const char *p = name; *p; p++) {
        char c = *p;
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
        if (!alpha && !(p != name && c >= '0' && c <= '9')) {
            return false;
        }
    }
    return true;
}

/* Binary search; *at receives the insertion point when not found. Caller holds the lock. */
static metrics_family_t *family_find(const char *name, size_t *at)
{
    size_t lo = 0, hi = s_registry.nfamilies;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int cmp = strcmp(s_registry.families[mid].name, name);
        if (cmp == 0) {
            return &s_registry.families[mid];
        }
        if (cmp < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    *at = lo;
    return NULL;
}

static metrics_family_t *family_get(const char *name, const char *help, metrics_type_t type)
{
    if (!name_valid(name)) {
        misuse("invalid metric name", name);
    }
    size_t at = 0;
    metrics_family_t *family = family_find(name, &at);
    if (family) {
        if (family->type != type || family->collect) {
            misuse("metric registered again with another type", name);
        }
        if (help && !family->help[0] && help[0]) { /* created by a lookup without help */
            free(family->help);
            family->help = xstrdup(help);
        } else if (help && strcmp(family->help, help) != 0) {
            misuse("metric registered again with another help text", name);
        }
        return family;
    }
    if (s_registry.nfamilies == s_registry.cap) {
        s_registry.cap = s_registry.cap ? s_registry.cap * 2 : 16;
        s_registry.families =
            xreallocarray(s_registry.families, s_registry.cap, sizeof(*s_registry.families));
    }
    memmove(&s_registry.families[at + 1], &s_registry.families[at],
            (s_registry.nfamilies - at) * sizeof(*s_registry.families));
    s_registry.nfamilies++;
    family = &s_registry.families[at];
    memset(family, 0, sizeof(*family));
    family->name = xstrdup(name);
    family->help = xstrdup(help ? help : "");
    family->type = type;
    return family;
}

/* Returns the existing series' metric, or NULL with *at set to the insertion point. */
static void *series_find(const metrics_family_t *family, const char *labels, size_t *at)
{
    size_t lo = 0, hi = family->nseries;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int cmp = strcmp(family->series[mid].labels, labels);
        if (cmp == 0) {
            return family->series[mid].metric;
        }
        if (cmp < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    *at = lo;
    return NULL;
}

static void series_insert(metrics_family_t *family, size_t at, const char *labels, void *metric)
{
    if (family->nseries == family->cap) {
        family->cap = family->cap ? family->cap * 2 : 4;
        family->series = xreallocarray(family->series, family->cap, sizeof(*family->series));
    }
    memmove(&family->series[at + 1], &family->series[at],
            (family->nseries - at) * sizeof(*family->series));
    family->series[at].labels = xstrdup(labels);
    family->series[at].metric = metric;
    family->nseries++;
}

metrics_counter_t *metrics_counter(const char *name, const char *help, const char *labels)
{
    labels = labels ? labels : "";
    pthread_mutex_lock(&s_registry.lock);
    metrics_family_t *family = family_get(name, help, METRICS_TYPE_COUNTER);
    size_t at = 0;
    metrics_counter_t *counter = series_find(family, labels, &at);
    if (!counter) {
        counter = xcalloc(1, sizeof(*counter));
        atomic_init(&counter->value, 0);
        series_insert(family, at, labels, counter);
    }
    pthread_mutex_unlock(&s_registry.lock);
    return counter;
}

metrics_gauge_t *metrics_gauge(const char *name, const char *help, const char *labels)
{
    labels = labels ? labels : "";
    pthread_mutex_lock(&s_registry.lock);
    metrics_family_t *family = family_get(name, help, METRICS_TYPE_GAUGE);
    size_t at = 0;
    metrics_gauge_t *gauge = series_find(family, labels, &at);
    if (!gauge) {
        gauge = xcalloc(1, sizeof(*gauge));
        atomic_init(&gauge->value, 0);
        series_insert(family, at, labels, gauge);
    }
    pthread_mutex_unlock(&s_registry.lock);
    return gauge;
}

static uint64_t double_bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof(u));
    return u;
}

static double bits_double(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof(d));
    return d;
}

metrics_histogram_t *metrics_histogram(const char *name, const char *help, const char *labels,
                                       const double *bounds, size_t nbounds)
{
    labels = labels ? labels : "";
    pthread_mutex_lock(&s_registry.lock);
    if (nbounds > 0 && !bounds) {
        misuse("histogram without bounds", name);
    }
    /* A trailing +Inf bound is the implicit bucket; anything else must ascend strictly. */
    if (nbounds > 0 && isinf(bounds[nbounds - 1]) && bounds[nbounds - 1] > 0) {
        nbounds--;
    }
    for (size_t i = 0; i < nbounds; i++) {
        if (isnan(bounds[i]) || isinf(bounds[i]) || (i > 0 && !(bounds[i - 1] < bounds[i]))) {
            misuse("histogram bounds not finite and strictly ascending", name);
        }
    }
    metrics_family_t *family = family_get(name, help, METRICS_TYPE_HISTOGRAM);
    size_t at = 0;
    metrics_histogram_t *histogram = series_find(family, labels, &at);
    if (!histogram) {
        histogram = xcalloc(1, sizeof(*histogram));
        histogram->nbounds = nbounds;
        histogram->bounds = xcalloc(nbounds ? nbounds : 1, sizeof(double));
        if (nbounds) {
            memcpy(histogram->bounds, bounds, nbounds * sizeof(double));
        }
        histogram->buckets = xcalloc(nbounds + 1, sizeof(*histogram->buckets));
        for (size_t i = 0; i <= nbounds; i++) {
            atomic_init(&histogram->buckets[i], 0);
        }
        atomic_init(&histogram->sum_bits, double_bits(0.0));
        series_insert(family, at, labels, histogram);
    }
    pthread_mutex_unlock(&s_registry.lock);
    return histogram;
}

void metrics_counter_add(metrics_counter_t *c, uint64_t n)
{
    if (c) {
        atomic_fetch_add_explicit(&c->value, n, memory_order_relaxed);
    }
}

uint64_t metrics_counter_get(const metrics_counter_t *c)
{
    return c ? atomic_load_explicit(&c->value, memory_order_relaxed) : 0;
}

void metrics_gauge_set(metrics_gauge_t *g, int64_t v)
{
    if (g) {
        atomic_store_explicit(&g->value, v, memory_order_relaxed);
    }
}

void metrics_gauge_add(metrics_gauge_t *g, int64_t delta)
{
    if (g) {
        atomic_fetch_add_explicit(&g->value, delta, memory_order_relaxed);
    }
}

int64_t metrics_gauge_get(const metrics_gauge_t *g)
{
    return g ? atomic_load_explicit(&g->value, memory_order_relaxed) : 0;
}

void metrics_histogram_observe(metrics_histogram_t *h, double v)
{
    if (!h) {
        return;
    }
    /* first bucket whose upper bound is >= v; NaN lands in +Inf */
    size_t lo = 0, hi = h->nbounds;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v <= h->bounds[mid]) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    if (isnan(v)) {
        lo = h->nbounds;
    }
    atomic_fetch_add_explicit(&h->buckets[lo], 1, memory_order_relaxed);
    uint64_t old = atomic_load_explicit(&h->sum_bits, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(&h->sum_bits, &old,
                                                  double_bits(bits_double(old) + v),
                                                  memory_order_relaxed, memory_order_relaxed)) {
    }
}

size_t metrics_label_escape(const char *in, char *out, size_t outlen)
{
    size_t need = 0, used = 0;
    bool full = outlen == 0;
    for (const char *p = in ? in : ""; *p; p++) {
        char esc[2];
        size_t n = 1;
        esc[0] = *p;
        if (*p == '\\' || *p == '"') {
            esc[0] = '\\';
            esc[1] = *p;
            n = 2;
        } else if (*p == '\n') {
            esc[0] = '\\';
            esc[1] = 'n';
            n = 2;
        }
        need += n;
        if (!full && used + n < outlen) {
            memcpy(out + used, esc, n);
            used += n;
        } else {
            full = true;
        }
    }
    if (outlen > 0) {
        out[used] = '\0';
    }
    return need;
}

void metrics_count(const char *name, const char *help, const char *label_name,
                   const char *label_value)
{
    if (!label_name || !*label_name) {
        metrics_counter_add(metrics_counter(name, help, NULL), 1);
        return;
    }
    size_t need = metrics_label_escape(label_value, NULL, 0);
    size_t len = strlen(label_name) + need + 4; /* ="" and NUL */
    char *labels = xcalloc(len, 1);
    size_t at = (size_t)snprintf(labels, len, "%s=\"", label_name);
    metrics_label_escape(label_value, labels + at, len - at);
    at += need;
    labels[at] = '"';
    labels[at + 1] = '\0';
    metrics_counter_add(metrics_counter(name, help, labels), 1);
    free(labels);
}

void metrics_build_info(const char *version, const char *revision)
{
    char labels[256], v[96], r[96];
    metrics_label_escape(version ? version : "unknown", v, sizeof(v));
    metrics_label_escape(revision ? revision : "unknown", r, sizeof(r));
    snprintf(labels, sizeof(labels), "version=\"%s\",revision=\"%s\"", v, r);
    metrics_gauge_set(
        metrics_gauge("build_info", "Which build of the gateway runs (always 1).", labels), 1);
}

/* ---------------------------------------------------------------------------------------------
 * A stage's metrics table */

static void def_check(const metrics_def_t *def, metrics_kind_t kind)
{
    if (!def || def->kind != kind) {
        misuse("metrics table row used as another kind", def ? def->name : "(null)");
    }
}

metrics_counter_t *metrics_def_counter(const metrics_def_t *def, const char *labels)
{
    def_check(def, METRICS_COUNTER);
    return metrics_counter(def->name, def->help, labels);
}

metrics_gauge_t *metrics_def_gauge(const metrics_def_t *def, const char *labels)
{
    def_check(def, METRICS_GAUGE);
    return metrics_gauge(def->name, def->help, labels);
}

metrics_histogram_t *metrics_def_histogram(const metrics_def_t *def, const char *labels)
{
    def_check(def, METRICS_HISTOGRAM);
    return metrics_histogram(def->name, def->help, labels, METRICS_LATENCY_SECONDS,
                             METRICS_LATENCY_SECONDS_N);
}

void metrics_def_count(const metrics_def_t *def, const char *label_value)
{
    def_check(def, METRICS_COUNTER);
    metrics_count(def->name, def->help, label_value ? def->label : NULL, label_value);
}

void metrics_define(const metrics_def_t *defs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const metrics_def_t *def = &defs[i];
        if (def->label) { /* the family exists, its series come with their label values */
            pthread_mutex_lock(&s_registry.lock);
            family_get(def->name, def->help,
                       def->kind == METRICS_COUNTER ? METRICS_TYPE_COUNTER
                       : def->kind == METRICS_GAUGE ? METRICS_TYPE_GAUGE
                                                    : METRICS_TYPE_HISTOGRAM);
            pthread_mutex_unlock(&s_registry.lock);
            continue;
        }
        switch (def->kind) {
        case METRICS_COUNTER:
            metrics_def_counter(def, NULL);
            break;
        case METRICS_GAUGE:
            metrics_def_gauge(def, NULL);
            break;
        case METRICS_HISTOGRAM:
            metrics_def_histogram(def, NULL);
            break;
        }
    }
}

/* ---------------------------------------------------------------------------------------------
 * Process metrics, read when rendered */

static double process_resident_memory_bytes(void)
{
    char buf[256];
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return 0;
    }
    ssize_t n;
    do {
        n = read(fd, buf, sizeof(buf) - 1);
    } while (n < 0 && errno == EINTR);
    close(fd);
    if (n <= 0) {
        return 0;
    }
    buf[n] = '\0';
    char *end = NULL;
    strtoull(buf, &end, 10); /* size */
    unsigned long long pages = strtoull(end, NULL, 10);
    long page_size = sysconf(_SC_PAGESIZE);
    return (double)pages * (double)(page_size > 0 ? page_size : 4096);
}

static double process_cpu_seconds_total(void)
{
    /* user + system time, what /proc/self/stat reports as utime + stime, without tick rounding */
    struct rusage usage;
    if (getrusage(RUSAGE_SELF, &usage) != 0) {
        return 0;
    }
    return (double)usage.ru_utime.tv_sec + (double)usage.ru_utime.tv_usec / 1e6 +
           (double)usage.ru_stime.tv_sec + (double)usage.ru_stime.tv_usec / 1e6;
}

/* Fields of /proc/self/stat after the command name: field 3 (state) is index 0. */
static unsigned long long proc_stat_field(int index)
{
    char buf[1024];
    int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return 0;
    }
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0) {
        return 0;
    }
    buf[n] = '\0';
    char *p = strrchr(buf, ')'); /* the command name may hold spaces and parentheses */
    if (!p) {
        return 0;
    }
    p++;
    for (int i = 0; i <= index && *p; i++) {
        while (*p == ' ') {
            p++;
        }
        if (i == index) {
            return strtoull(p, NULL, 10);
        }
        while (*p && *p != ' ') {
            p++;
        }
    }
    return 0;
}

static double process_start_time_seconds(void)
{
    /* starttime (field 22) is in clock ticks since boot; btime in /proc/stat is the boot time */
    static double cached;
    if (cached > 0) {
        return cached;
    }
    FILE *f = fopen("/proc/stat", "re");
    unsigned long long btime = 0;
    char line[256];
    while (f && fgets(line, sizeof(line), f)) {
        if (strncmp(line, "btime ", 6) == 0) {
            btime = strtoull(line + 6, NULL, 10);
            break;
        }
    }
    if (f) {
        fclose(f);
    }
    long ticks = sysconf(_SC_CLK_TCK);
    cached = (double)btime + (double)proc_stat_field(19) / (double)(ticks > 0 ? ticks : 100);
    return cached;
}

static double process_virtual_memory_bytes(void)
{
    return (double)proc_stat_field(20); /* vsize, bytes */
}

static double process_max_fds(void)
{
    struct rlimit rl;
    return getrlimit(RLIMIT_NOFILE, &rl) == 0 ? (double)rl.rlim_cur : 0;
}

static double process_open_fds(void)
{
    DIR *dir = opendir("/proc/self/fd");
    if (!dir) {
        return 0;
    }
    long count = 0;
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL) {
        if (entry->d_name[0] != '.') {
            count++;
        }
    }
    closedir(dir);
    return (double)(count > 0 ? count - 1 : 0); /* not the directory's own descriptor */
}

static void register_collected(const char *name, const char *help, metrics_type_t type,
                               double (*collect)(void))
{
    size_t at = 0;
    if (family_find(name, &at)) {
        misuse("process metric name already taken", name);
    }
    metrics_family_t *family = family_get(name, help, type);
    family->collect = collect;
    family->unprefixed = true;
}

static void register_process_metrics(void)
{
    if (s_registry.process_registered) {
        return;
    }
    s_registry.process_registered = true;
    register_collected("process_resident_memory_bytes", "Resident memory size in bytes.",
                       METRICS_TYPE_GAUGE, process_resident_memory_bytes);
    register_collected("process_cpu_seconds_total", "Total user and system CPU time in seconds.",
                       METRICS_TYPE_COUNTER, process_cpu_seconds_total);
    register_collected("process_open_fds", "Number of open file descriptors.", METRICS_TYPE_GAUGE,
                       process_open_fds);
    register_collected("process_max_fds", "Maximum number of open file descriptors.",
                       METRICS_TYPE_GAUGE, process_max_fds);
    register_collected("process_start_time_seconds",
                       "Start time of the process since unix epoch in seconds.", METRICS_TYPE_GAUGE,
                       process_start_time_seconds);
    register_collected("process_virtual_memory_bytes", "Virtual memory size in bytes.",
                       METRICS_TYPE_GAUGE, process_virtual_memory_bytes);
}

/* ---------------------------------------------------------------------------------------------
 * Rendering */

typedef struct {
    char *buf;
    size_t len;
    size_t cap;
    bool failed;
} text_t;

static bool text_reserve(text_t *text, size_t extra)
{
    if (text->failed) {
        return false;
    }
    if (text->len + extra + 1 <= text->cap) {
        return true;
    }
    size_t cap = text->cap ? text->cap : 4096;
    while (cap < text->len + extra + 1) {
        cap *= 2;
    }
    char *buf = realloc(text->buf, cap);
    if (!buf) {
        text->failed = true;
        return false;
    }
    text->buf = buf;
    text->cap = cap;
    return true;
}

static void text_append(text_t *text, const char *s, size_t n)
{
    if (text_reserve(text, n)) {
        memcpy(text->buf + text->len, s, n);
        text->len += n;
        text->buf[text->len] = '\0';
    }
}

__attribute__((format(printf, 2, 3))) static void text_printf(text_t *text, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0) {
        text->failed = true;
        return;
    }
    if ((size_t)n < sizeof(small)) {
        text_append(text, small, (size_t)n);
        return;
    }
    if (!text_reserve(text, (size_t)n)) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(text->buf + text->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    text->len += (size_t)n;
}

/* Shortest text that reads back as the same double; integers without exponent. */
static void format_double(double v, char *out, size_t outlen)
{
    if (isnan(v)) {
        snprintf(out, outlen, "NaN");
        return;
    }
    if (isinf(v)) {
        snprintf(out, outlen, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    if (v == floor(v) && fabs(v) < 9007199254740992.0) {
        snprintf(out, outlen, "%.0f", v);
        return;
    }
    for (int precision = 1; precision <= 17; precision++) {
        snprintf(out, outlen, "%.*g", precision, v);
        if (strtod(out, NULL) == v) {
            return;
        }
    }
}

static const char *family_prefix(const metrics_family_t *family)
{
    return family->unprefixed ? "" : METRICS_PREFIX;
}

static void render_help(text_t *text, const metrics_family_t *family)
{
    text_printf(text, "# HELP %s%s%s", family_prefix(family), family->name,
                *family->help ? " " : "");
    /* HELP escapes backslash and newline only */
    for (const char *p = family->help; *p; p++) {
        if (*p == '\\') {
            text_append(text, "\\\\", 2);
        } else if (*p == '\n') {
            text_append(text, "\\n", 2);
        } else {
            text_append(text, p, 1);
        }
    }
    text_printf(text, "\n# TYPE %s%s %s\n", family_prefix(family), family->name,
                type_name(family->type));
}

static void render_histogram(text_t *text, const char *name, const char *labels,
                             const metrics_histogram_t *h)
{
    const char *sep = *labels ? "," : "";
    char num[64];
    uint64_t cumulative = 0;
    for (size_t i = 0; i <= h->nbounds; i++) {
        cumulative += atomic_load_explicit(&h->buckets[i], memory_order_relaxed);
        if (i < h->nbounds) {
            format_double(h->bounds[i], num, sizeof(num));
        } else {
            snprintf(num, sizeof(num), "+Inf");
        }
        text_printf(text, METRICS_PREFIX "%s_bucket{%s%sle=\"%s\"} %llu\n", name, labels, sep, num,
                    (unsigned long long)cumulative);
    }
    format_double(bits_double(atomic_load_explicit(&h->sum_bits, memory_order_relaxed)), num,
                  sizeof(num));
    const char *open = *labels ? "{" : "", *close = *labels ? "}" : "";
    text_printf(text, METRICS_PREFIX "%s_sum%s%s%s %s\n", name, open, labels, close, num);
    /* the +Inf bucket, so that count and buckets agree within one scrape */
    text_printf(text, METRICS_PREFIX "%s_count%s%s%s %llu\n", name, open, labels, close,
                (unsigned long long)cumulative);
}

static void render_family(text_t *text, const metrics_family_t *family)
{
    render_help(text, family);
    if (family->collect) {
        char num[64];
        format_double(family->collect(), num, sizeof(num));
        text_printf(text, "%s%s %s\n", family_prefix(family), family->name, num);
        return;
    }
    for (size_t i = 0; i < family->nseries; i++) {
        const metrics_series_t *series = &family->series[i];
        const char *labels = series->labels;
        const char *open = *labels ? "{" : "", *close = *labels ? "}" : "";
        switch (family->type) {
        case METRICS_TYPE_COUNTER:
            text_printf(text, METRICS_PREFIX "%s%s%s%s %llu\n", family->name, open, labels, close,
                        (unsigned long long)metrics_counter_get(series->metric));
            break;
        case METRICS_TYPE_GAUGE:
            text_printf(text, METRICS_PREFIX "%s%s%s%s %lld\n", family->name, open, labels, close,
                        (long long)metrics_gauge_get(series->metric));
            break;
        case METRICS_TYPE_HISTOGRAM:
            render_histogram(text, family->name, labels, series->metric);
            break;
        }
    }
}

char *metrics_render(void)
{
    text_t text = {0};
    text_reserve(&text, 0);
    pthread_mutex_lock(&s_registry.lock);
    register_process_metrics();
    for (size_t i = 0; i < s_registry.nfamilies; i++) {
        render_family(&text, &s_registry.families[i]);
    }
    pthread_mutex_unlock(&s_registry.lock);
    if (text.failed) {
        free(text.buf);
        return NULL;
    }
    return text.buf;
}

static void series_free(metrics_type_t type, metrics_series_t *series)
{
    if (type == METRICS_TYPE_HISTOGRAM) {
        metrics_histogram_t *h = series->metric;
        free(h->bounds);
        free(h->buckets);
    }
    free(series->metric);
    free(series->labels);
}

void metrics_shutdown(void)
{
    pthread_mutex_lock(&s_registry.lock);
    for (size_t i = 0; i < s_registry.nfamilies; i++) {
        metrics_family_t *family = &s_registry.families[i];
        for (size_t j = 0; j < family->nseries; j++) {
            series_free(family->type, &family->series[j]);
        }
        free(family->series);
        free(family->name);
        free(family->help);
    }
    free(s_registry.families);
    s_registry.families = NULL;
    s_registry.nfamilies = 0;
    s_registry.cap = 0;
    s_registry.process_registered = false;
    pthread_mutex_unlock(&s_registry.lock);
}
