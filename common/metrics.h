/* metrics.h: the one metrics registry of a process, rendered as Prometheus text exposition 0.0.4.
 *
 * The registry is process-global. Creating a metric (get-or-create by name and labels) takes a
 * mutex; updating one is a relaxed atomic operation, so callers look a metric up once, cache the
 * pointer and update it on the hot path. Rendering is safe while other threads update.
 *
 * Names are given without prefix; the exposition adds "ocppgw_". Labels are NULL or a preformatted
 * label list such as `code="1008",reason="slow"` whose values the caller escaped with
 * metrics_label_escape(). Label values must have bounded cardinality (never a charge point id).
 */
#ifndef OCPPGW_METRICS_H
#define OCPPGW_METRICS_H

#include <stddef.h>
#include <stdint.h>

typedef struct metrics_counter metrics_counter_t;
typedef struct metrics_gauge metrics_gauge_t;
typedef struct metrics_histogram metrics_histogram_t;

/* Get-or-create by (name, labels). The returned object lives until metrics_shutdown(). Never
   NULL: allocation failure aborts. help NULL looks a family up whatever its help; reusing a
   name with a different type or another (non-NULL) help text, an invalid name or unsorted histogram
   bounds is a programmer error and aborts. For a histogram series, the first bounds win. */
metrics_counter_t *metrics_counter(const char *name, const char *help, const char *labels);
metrics_gauge_t *metrics_gauge(const char *name, const char *help, const char *labels);
/* bounds ascending; the +Inf bucket is implicit */
metrics_histogram_t *metrics_histogram(const char *name, const char *help, const char *labels,
                                       const double *bounds, size_t nbounds);

/* Lock-free updates (relaxed atomics). A NULL metric is ignored. */
void metrics_counter_add(metrics_counter_t *c, uint64_t n);
void metrics_gauge_set(metrics_gauge_t *g, int64_t v);
void metrics_gauge_add(metrics_gauge_t *g, int64_t delta);
int64_t metrics_gauge_get(const metrics_gauge_t *g);
uint64_t metrics_counter_get(const metrics_counter_t *c);
void metrics_histogram_observe(metrics_histogram_t *h, double v);

/* Counts one event under a dynamic label value, e.g.
   metrics_count("ocpp_errors_total", "OCPP errors", "code", "FormatViolation"). The value is
   escaped here. Takes the registry mutex: for rare events, not for the hot path. */
void metrics_count(const char *name, const char *help, const char *label_name,
                   const char *label_value);

/* Escapes backslash, double quote and newline of a label value into out (always NUL-terminated
   when outlen > 0, never cut inside an escape). Returns the length of the whole escaped value, as
   snprintf does: a result >= outlen means out was truncated. NULL in is the empty string. */
size_t metrics_label_escape(const char *in, char *out, size_t outlen);

/* The whole exposition; the caller frees it. NULL only if memory runs out. Families are sorted by
   name, each with one # HELP and one # TYPE line; series are sorted by labels. The first call
   also registers the standard process metrics, exported without the prefix as every Prometheus
   tool expects them: process_cpu_seconds_total, process_resident_memory_bytes,
   process_virtual_memory_bytes, process_start_time_seconds, process_open_fds, process_max_fds. */
char *metrics_render(void);

/* Frees every metric (tests, clean exit). Cached pointers become invalid; no other thread may
   use the registry meanwhile. The registry can be used again afterwards. */
void metrics_shutdown(void);

/* ---- a stage's metrics table ------------------------------------------------------------
 * Every metric family a stage exports is declared once, in one table of that stage (name, kind,
 * help, label): one name, one meaning. The stage registers the table at start-up, so every
 * family is in /metrics from the first scrape (a family without labels at 0), and takes its
 * series from the rows. */

typedef enum {
    METRICS_COUNTER,
    METRICS_GAUGE,
    METRICS_HISTOGRAM /* buckets METRICS_LATENCY_SECONDS */
} metrics_kind_t;

typedef struct {
    const char *name;
    metrics_kind_t kind;
    const char *help;
    const char *label; /* name of the label metrics_def_count() sets, NULL: none */
} metrics_def_t;

/* Registers every row of a table. A name registered again with another kind or help text is a
 * programmer error and aborts. */
void metrics_define(const metrics_def_t *defs, size_t n);

/* The series of a row with labels, a preformatted (escaped) label list or NULL for none;
 * get-or-create like metrics_counter(). The kind must match the row's (abort otherwise). */
metrics_counter_t *metrics_def_counter(const metrics_def_t *def, const char *labels);
metrics_gauge_t *metrics_def_gauge(const metrics_def_t *def, const char *labels);
metrics_histogram_t *metrics_def_histogram(const metrics_def_t *def, const char *labels);

/* +1 on the series whose one label (def->label) has this value (escaped here; NULL: the series
 * without labels). Takes the registry mutex: for rare events, not the hot path. */
void metrics_def_count(const metrics_def_t *def, const char *label_value);

/* ocppgw_build_info{version,revision} 1: which build runs (Prometheus convention). */
void metrics_build_info(const char *version, const char *revision);

/* Latency buckets in seconds, 0.0005 .. 10 */
extern const double METRICS_LATENCY_SECONDS[];
extern const size_t METRICS_LATENCY_SECONDS_N;

#endif
