/* config.c: configuration tables filled from defaults, a YAML file and OCPPGW_* variables.
 *
 * Loading works in two phases so that a failed load leaves the target untouched: first each
 * option's winning text is chosen (default < common section < own section < environment) with
 * where it came from, then every text is parsed into temporaries, and only if all of them are
 * valid are they stored into the target, freeing the strings they replace.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <yaml.h>

/* "OCPPGW_" + the longest option name we accept. */
#define CONFIG_NAME_MAX       96
#define CONFIG_ENV_PREFIX     "OCPPGW_"
#define CONFIG_ENV_MAX        (sizeof(CONFIG_ENV_PREFIX) + CONFIG_NAME_MAX)
#define CONFIG_SECTION_COMMON "common"

typedef enum {
    CONFIG_SRC_DEFAULT,
    CONFIG_SRC_COMMON,
    CONFIG_SRC_SERVICE,
    CONFIG_SRC_ENV
} config_source_t;

/* The winning text of one option and where it came from. text is borrowed from the table, the
 * YAML document or the environment, all of which outlive the load. */
typedef struct {
    const char *text;
    config_source_t source;
    size_t line; /* file sources: 1-based line of the key */
    bool unset;  /* NULL default never overridden: validate is not called */
} config_slot_t;

typedef union {
    int64_t i;
    bool b;
    char *s;
} config_value_t;

/* Everything one load works on. */
typedef struct {
    const config_option_t *table;
    size_t n;
    const char *service;
    const char *path;
    config_slot_t *slots;
    char *err;
    size_t errlen;
} config_loader_t;

static void config_error(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void config_error(char *err, size_t errlen, const char *fmt, ...)
{
    va_list args;

    if (!err || errlen == 0)
        return;
    va_start(args, fmt);
    vsnprintf(err, errlen, fmt, args);
    va_end(args);
}

static bool config_is_secret(const char *name)
{
    return strstr(name, "password") || strstr(name, "secret");
}

/* OCPPGW_<NAME>; -EINVAL if the name does not fit. */
static int config_env_name(const char *name, char *out, size_t outlen)
{
    size_t prefix = strlen(CONFIG_ENV_PREFIX);
    size_t len = strlen(name);

    if (prefix + len + 1 > outlen)
        return -EINVAL;
    memcpy(out, CONFIG_ENV_PREFIX, prefix);
    for (size_t i = 0; i < len; i++)
        out[prefix + i] = (char)toupper((unsigned char)name[i]);
    out[prefix + len] = '\0';
    return 0;
}

/* "250ms", "30s", "5m", "1h": the largest unit that divides exactly. */
static void config_format_duration(int64_t ms, char *out, size_t outlen)
{
    if (ms == 0)
        snprintf(out, outlen, "0s");
    else if (ms % 3600000 == 0)
        snprintf(out, outlen, "%lldh", (long long)(ms / 3600000));
    else if (ms % 60000 == 0)
        snprintf(out, outlen, "%lldm", (long long)(ms / 60000));
    else if (ms % 1000 == 0)
        snprintf(out, outlen, "%llds", (long long)(ms / 1000));
    else
        snprintf(out, outlen, "%lldms", (long long)ms);
}

static bool config_bounded(const config_option_t *opt)
{
    return opt->min != 0 || opt->max != 0;
}

/* What the option accepts, after "expected ". */
static void config_describe_expected(const config_option_t *opt, char *out, size_t outlen)
{
    char lo[32], hi[32];

    switch (opt->type) {
    case CONFIG_INT:
        if (config_bounded(opt))
            snprintf(out, outlen, "an integer between %lld and %lld", (long long)opt->min,
                     (long long)opt->max);
        else
            snprintf(out, outlen, "an integer");
        break;
    case CONFIG_BOOL:
        snprintf(out, outlen, "a boolean (true/false, yes/no, on/off, 1/0)");
        break;
    case CONFIG_DURATION:
        if (config_bounded(opt)) {
            config_format_duration(opt->min, lo, sizeof(lo));
            config_format_duration(opt->max, hi, sizeof(hi));
            snprintf(out, outlen, "a duration (e.g. 250ms, 30s, 5m, 1h) between %s and %s", lo, hi);
        } else {
            snprintf(out, outlen, "a duration (e.g. 250ms, 30s, 5m, 1h)");
        }
        break;
    case CONFIG_ENUM: {
        size_t used = (size_t)snprintf(out, outlen, "one of ");
        const char *p = opt->allowed;

        if (used >= outlen)
            break;
        /* "a|b|c" -> "one of a, b, c" */
        while (*p && used + 3 < outlen) {
            if (*p == '|') {
                out[used++] = ',';
                out[used++] = ' ';
            } else {
                out[used++] = *p;
            }
            p++;
        }
        out[used < outlen ? used : outlen - 1] = '\0';
        break;
    }
    case CONFIG_STRING:
        snprintf(out, outlen, "a string");
        break;
    }
}

static int config_parse_int(const config_option_t *opt, const char *text, int64_t *out)
{
    const char *digits = text;
    char *end;
    long long value;

    if (*digits == '+' || *digits == '-')
        digits++;
    if (!isdigit((unsigned char)*digits))
        return -EINVAL;
    errno = 0;
    value = strtoll(text, &end, 10);
    if (errno != 0 || *end != '\0')
        return -EINVAL;
    if (config_bounded(opt) && (value < opt->min || value > opt->max))
        return -EINVAL;
    *out = (int64_t)value;
    return 0;
}

static int config_parse_bool(const char *text, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};

    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcasecmp(text, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(text, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return -EINVAL;
}

/* <digits>[.<digits>][ms|s|m|h], an exact whole number of milliseconds. */
static int config_parse_duration(const config_option_t *opt, const char *text, int64_t *out)
{
    const char *p = text;
    int64_t whole = 0, frac = 0, scale = 1, unit, total;

    if (!isdigit((unsigned char)*p))
        return -EINVAL;
    while (isdigit((unsigned char)*p)) {
        if (__builtin_mul_overflow(whole, 10, &whole) ||
            __builtin_add_overflow(whole, *p - '0', &whole))
            return -EINVAL;
        p++;
    }
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p))
            return -EINVAL;
        for (int digits = 0; isdigit((unsigned char)*p); digits++, p++) {
            if (digits == 9)
                return -EINVAL;
            frac = frac * 10 + (*p - '0');
            scale *= 10;
        }
    }
    if (strcmp(p, "") == 0 || strcmp(p, "ms") == 0)
        unit = 1;
    else if (strcmp(p, "s") == 0)
        unit = 1000;
    else if (strcmp(p, "m") == 0)
        unit = 60 * 1000;
    else if (strcmp(p, "h") == 0)
        unit = 60 * 60 * 1000;
    else
        return -EINVAL;
    /* (whole + frac / scale) * unit, exactly */
    if (__builtin_mul_overflow(whole, scale, &total) ||
        __builtin_add_overflow(total, frac, &total) ||
        __builtin_mul_overflow(total, unit, &total) || total % scale != 0)
        return -EINVAL;
    total /= scale;
    if (config_bounded(opt) && (total < opt->min || total > opt->max))
        return -EINVAL;
    *out = total;
    return 0;
}

static int config_parse_enum(const config_option_t *opt, const char *text)
{
    size_t len = strlen(text);
    const char *p = opt->allowed;

    while (*p) {
        const char *bar = strchr(p, '|');
        size_t word = bar ? (size_t)(bar - p) : strlen(p);

        if (word == len && strncmp(p, text, len) == 0)
            return 0;
        if (!bar)
            break;
        p = bar + 1;
    }
    return -EINVAL;
}

static void config_describe_source(const config_loader_t *ld, size_t i, char *out, size_t outlen)
{
    const config_slot_t *slot = &ld->slots[i];

    switch (slot->source) {
    case CONFIG_SRC_DEFAULT:
        snprintf(out, outlen, "default");
        break;
    case CONFIG_SRC_COMMON:
    case CONFIG_SRC_SERVICE:
        snprintf(out, outlen, "%s line %zu", ld->path, slot->line);
        break;
    case CONFIG_SRC_ENV:
        if (config_env_name(ld->table[i].name, out, outlen) != 0)
            snprintf(out, outlen, "environment");
        break;
    }
}

/* Parse option i's winning text into *value (a new string for STRING and ENUM). */
static int config_parse_slot(const config_loader_t *ld, size_t i, config_value_t *value)
{
    const config_option_t *opt = &ld->table[i];
    const config_slot_t *slot = &ld->slots[i];
    char why[512] = "";
    char source[512];
    int rc = 0;

    if (slot->unset) {
        /* NULL default never overridden: empty string, 0 or false, not checked */
        value->i = 0;
        value->b = false;
        if (opt->type == CONFIG_STRING || opt->type == CONFIG_ENUM) {
            value->s = strdup("");
            if (!value->s) {
                config_error(ld->err, ld->errlen, "out of memory loading %s", opt->name);
                return -ENOMEM;
            }
        }
        return 0;
    }
    switch (opt->type) {
    case CONFIG_INT:
        rc = config_parse_int(opt, slot->text, &value->i);
        break;
    case CONFIG_BOOL:
        rc = config_parse_bool(slot->text, &value->b);
        break;
    case CONFIG_DURATION:
        rc = config_parse_duration(opt, slot->text, &value->i);
        break;
    case CONFIG_ENUM:
        rc = config_parse_enum(opt, slot->text);
        break;
    case CONFIG_STRING:
        if (opt->validate && opt->validate(slot->text, why, sizeof(why)) != 0)
            rc = -EINVAL;
        break;
    }
    if (rc != 0) {
        config_describe_source(ld, i, source, sizeof(source));
        if (opt->type == CONFIG_STRING) {
            if (why[0] == '\0')
                snprintf(why, sizeof(why), "rejected by the check of %s", opt->name);
        } else {
            size_t len = (size_t)snprintf(why, sizeof(why), "expected ");

            config_describe_expected(opt, why + len, sizeof(why) - len);
        }
        config_error(ld->err, ld->errlen, "invalid value '%s' for %s (from %s): %s",
                     config_is_secret(opt->name) ? "***" : slot->text, opt->name, source, why);
        return -EINVAL;
    }
    if (opt->type == CONFIG_STRING || opt->type == CONFIG_ENUM) {
        value->s = strdup(slot->text);
        if (!value->s) {
            config_error(ld->err, ld->errlen, "out of memory loading %s", opt->name);
            return -ENOMEM;
        }
    }
    return 0;
}

static int config_check_table(const config_option_t *table, size_t n, char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        const config_option_t *opt = &table[i];
        const char *p = opt->name;

        if (!p || !*p || strlen(p) > CONFIG_NAME_MAX) {
            config_error(err, errlen, "config table: option %zu has no usable name", i);
            return -EINVAL;
        }
        for (; *p; p++) {
            if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) && *p != '_') {
                config_error(err, errlen, "config table: option name '%s' is not lower_snake",
                             opt->name);
                return -EINVAL;
            }
        }
        if ((unsigned)opt->type > CONFIG_ENUM || (opt->type == CONFIG_ENUM && !opt->allowed)) {
            config_error(err, errlen, "config table: option '%s' has a bad type or no allowed list",
                         opt->name);
            return -EINVAL;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(table[j].name, opt->name) == 0) {
                config_error(err, errlen, "config table: option '%s' appears twice", opt->name);
                return -EINVAL;
            }
        }
    }
    return 0;
}

static ssize_t config_find(const config_loader_t *ld, const char *name)
{
    for (size_t i = 0; i < ld->n; i++)
        if (strcmp(ld->table[i].name, name) == 0)
            return (ssize_t)i;
    return -1;
}

static size_t config_node_line(const yaml_node_t *node)
{
    return node->start_mark.line + 1;
}

/* A plain empty, "~" or "null" scalar: an empty section or an empty value. */
static bool config_node_is_null(const yaml_node_t *node)
{
    const char *text;

    if (node->type != YAML_SCALAR_NODE || node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    text = (const char *)node->data.scalar.value;
    return *text == '\0' || strcmp(text, "~") == 0 || strcasecmp(text, "null") == 0;
}

/* Apply the key/value pairs of one section (the value node of `common:` or `<service>:`). */
static int config_apply_section(config_loader_t *ld, yaml_document_t *doc, yaml_node_t *section,
                                const char *section_name, config_source_t source)
{
    bool own = source == CONFIG_SRC_SERVICE;

    if (config_node_is_null(section))
        return 0;
    if (section->type != YAML_MAPPING_NODE) {
        config_error(ld->err, ld->errlen, "%s line %zu: section '%s' must be a mapping of keys",
                     ld->path, config_node_line(section), section_name);
        return -EINVAL;
    }
    for (yaml_node_pair_t *pair = section->data.mapping.pairs.start;
         pair < section->data.mapping.pairs.top; pair++) {
        yaml_node_t *key = yaml_document_get_node(doc, pair->key);
        yaml_node_t *value = yaml_document_get_node(doc, pair->value);
        const char *name;
        config_slot_t *slot;
        ssize_t idx;

        if (!key || !value || key->type != YAML_SCALAR_NODE) {
            config_error(ld->err, ld->errlen, "%s line %zu: keys in section '%s' must be scalars",
                         ld->path, key ? config_node_line(key) : 0, section_name);
            return -EINVAL;
        }
        name = (const char *)key->data.scalar.value;
        idx = config_find(ld, name);
        if (idx < 0) {
            if (!own)
                continue; /* a key of another service */
            config_error(ld->err, ld->errlen, "%s line %zu: unknown key '%s' in section '%s'",
                         ld->path, config_node_line(key), name, section_name);
            return -EINVAL;
        }
        slot = &ld->slots[idx];
        if (slot->source == source) {
            config_error(ld->err, ld->errlen,
                         "%s line %zu: key '%s' appears twice in section '%s' (first at line %zu)",
                         ld->path, config_node_line(key), name, section_name, slot->line);
            return -EINVAL;
        }
        if (value->type != YAML_SCALAR_NODE) {
            config_error(ld->err, ld->errlen,
                         "%s line %zu: value of '%s' must be a single value, not a list or mapping",
                         ld->path, config_node_line(key), name);
            return -EINVAL;
        }
        if (strlen((const char *)value->data.scalar.value) != value->data.scalar.length) {
            config_error(ld->err, ld->errlen, "%s line %zu: value of '%s' contains a NUL byte",
                         ld->path, config_node_line(key), name);
            return -EINVAL;
        }
        slot->text = config_node_is_null(value) ? "" : (const char *)value->data.scalar.value;
        slot->source = source;
        slot->line = config_node_line(key);
        slot->unset = false;
    }
    return 0;
}

static int config_apply_document(config_loader_t *ld, yaml_document_t *doc)
{
    yaml_node_t *root = yaml_document_get_root_node(doc);

    if (!root || config_node_is_null(root))
        return 0; /* an empty file */
    if (root->type != YAML_MAPPING_NODE) {
        config_error(ld->err, ld->errlen,
                     "%s line %zu: expected a mapping of sections ('%s:', '%s:')", ld->path,
                     config_node_line(root), CONFIG_SECTION_COMMON,
                     ld->service ? ld->service : "<service>");
        return -EINVAL;
    }
    /* common first, then the service's own section wins, whatever their order in the file */
    for (int pass = 0; pass < 2; pass++) {
        for (yaml_node_pair_t *pair = root->data.mapping.pairs.start;
             pair < root->data.mapping.pairs.top; pair++) {
            yaml_node_t *key = yaml_document_get_node(doc, pair->key);
            yaml_node_t *value = yaml_document_get_node(doc, pair->value);
            const char *name;
            int rc = 0;

            if (!key || !value || key->type != YAML_SCALAR_NODE) {
                config_error(ld->err, ld->errlen, "%s line %zu: section names must be scalars",
                             ld->path, key ? config_node_line(key) : 0);
                return -EINVAL;
            }
            name = (const char *)key->data.scalar.value;
            if (strcmp(name, CONFIG_SECTION_COMMON) == 0) {
                if (pass == 0)
                    rc = config_apply_section(ld, doc, value, name, CONFIG_SRC_COMMON);
            } else if (ld->service && strcmp(name, ld->service) == 0) {
                if (pass == 1)
                    rc = config_apply_section(ld, doc, value, name, CONFIG_SRC_SERVICE);
            } else if (pass == 0 && value->type != YAML_MAPPING_NODE &&
                       !config_node_is_null(value)) {
                /* `key: value` outside any section: a misplaced setting, not another service's
                 * section; ignoring it would hide the mistake */
                config_error(ld->err, ld->errlen,
                             "%s line %zu: top-level key '%s' is not a section; settings go "
                             "under '%s:' or '%s:'",
                             ld->path, config_node_line(key), name, CONFIG_SECTION_COMMON,
                             ld->service ? ld->service : "<service>");
                rc = -EINVAL;
            }
            if (rc != 0)
                return rc;
        }
    }
    return 0;
}

/* 1-based line of a byte offset in file. */
static size_t config_line_at_offset(FILE *file, size_t offset)
{
    size_t line = 1;
    int c;

    if (fseek(file, 0, SEEK_SET) != 0)
        return 0;
    for (size_t i = 0; i < offset && (c = getc(file)) != EOF; i++)
        if (c == '\n')
            line++;
    return line;
}

/* Parse the file into doc. On failure doc needs no cleanup. */
static int config_read_file(config_loader_t *ld, yaml_document_t *doc)
{
    yaml_parser_t parser;
    yaml_document_t extra;
    struct stat st;
    FILE *file;
    int rc = 0;

    file = fopen(ld->path, "rb");
    if (!file) {
        rc = -errno;
        config_error(ld->err, ld->errlen, "cannot read config file %s: %s", ld->path,
                     strerror(errno));
        return rc;
    }
    if (fstat(fileno(file), &st) == 0 && S_ISDIR(st.st_mode)) {
        config_error(ld->err, ld->errlen, "cannot read config file %s: %s", ld->path,
                     strerror(EISDIR));
        fclose(file);
        return -EISDIR;
    }
    if (!yaml_parser_initialize(&parser)) {
        config_error(ld->err, ld->errlen, "out of memory reading %s", ld->path);
        fclose(file);
        return -ENOMEM;
    }
    yaml_parser_set_input_file(&parser, file);
    if (!yaml_parser_load(&parser, doc))
        goto out_parse_error;
    /* A second document would be silently ignored: refuse it. */
    if (!yaml_parser_load(&parser, &extra)) {
        yaml_document_delete(doc);
        goto out_parse_error;
    }
    if (yaml_document_get_root_node(&extra)) {
        config_error(ld->err, ld->errlen,
                     "%s line %zu: more than one YAML document; put all sections in one", ld->path,
                     extra.start_mark.line + 1);
        yaml_document_delete(doc);
        rc = -EINVAL;
    }
    yaml_document_delete(&extra);
    goto out_free_parser;

out_parse_error:
    if (parser.error == YAML_MEMORY_ERROR) {
        config_error(ld->err, ld->errlen, "out of memory reading %s", ld->path);
        rc = -ENOMEM;
    } else if (parser.error == YAML_READER_ERROR) {
        /* bytes that are not text (bad UTF-8, NUL): libyaml only knows the offset */
        config_error(ld->err, ld->errlen, "%s line %zu: not valid YAML text: %s", ld->path,
                     config_line_at_offset(file, parser.problem_offset),
                     parser.problem ? parser.problem : "cannot read");
        rc = -EINVAL;
    } else if (parser.context) {
        config_error(ld->err, ld->errlen,
                     "%s line %zu: YAML syntax error: %s (%s started on line %zu)", ld->path,
                     parser.problem_mark.line + 1, parser.problem ? parser.problem : "invalid",
                     parser.context, parser.context_mark.line + 1);
        rc = -EINVAL;
    } else {
        config_error(ld->err, ld->errlen, "%s line %zu: YAML syntax error: %s", ld->path,
                     parser.problem_mark.line + 1, parser.problem ? parser.problem : "invalid");
        rc = -EINVAL;
    }
out_free_parser:
    yaml_parser_delete(&parser);
    fclose(file);
    return rc;
}

static void config_apply_env(config_loader_t *ld)
{
    for (size_t i = 0; i < ld->n; i++) {
        char env[CONFIG_ENV_MAX];
        const char *value;

        if (config_env_name(ld->table[i].name, env, sizeof(env)) != 0)
            continue; /* cannot happen: config_check_table bounds the name */
        value = getenv(env);
        if (value) {
            ld->slots[i].text = value;
            ld->slots[i].source = CONFIG_SRC_ENV;
            ld->slots[i].unset = false;
        }
    }
}

static void config_store(const config_option_t *opt, void *target, config_value_t *value)
{
    char *field = (char *)target + opt->offset;

    switch (opt->type) {
    case CONFIG_STRING:
    case CONFIG_ENUM: {
        char **str = (char **)(void *)field;

        free(*str);
        *str = value->s;
        value->s = NULL;
        break;
    }
    case CONFIG_INT:
    case CONFIG_DURATION:
        *(int64_t *)(void *)field = value->i;
        break;
    case CONFIG_BOOL:
        *(bool *)(void *)field = value->b;
        break;
    }
}

int config_load(const config_option_t *table, size_t n, void *target, const char *service,
                const char *path, char *err, size_t errlen)
{
    config_loader_t ld = {table, n, service, path, NULL, err, errlen};
    yaml_document_t doc;
    bool have_doc = false;
    config_value_t *values;
    int rc;

    if (err && errlen > 0)
        err[0] = '\0';
    if ((!table && n > 0) || !target) {
        config_error(err, errlen, "config_load: no table or no target");
        return -EINVAL;
    }
    rc = config_check_table(table, n, err, errlen);
    if (rc != 0)
        return rc;
    ld.slots = calloc(n ? n : 1, sizeof(*ld.slots));
    values = calloc(n ? n : 1, sizeof(*values));
    if (!ld.slots || !values) {
        config_error(err, errlen, "out of memory");
        rc = -ENOMEM;
        goto out_free;
    }
    for (size_t i = 0; i < n; i++) {
        ld.slots[i].text = table[i].default_value ? table[i].default_value : "";
        ld.slots[i].source = CONFIG_SRC_DEFAULT;
        ld.slots[i].unset = !table[i].default_value;
    }
    if (path) {
        rc = config_read_file(&ld, &doc);
        if (rc != 0)
            goto out_free;
        have_doc = true;
        rc = config_apply_document(&ld, &doc);
        if (rc != 0)
            goto out_free;
    }
    config_apply_env(&ld);
    for (size_t i = 0; i < n; i++) {
        rc = config_parse_slot(&ld, i, &values[i]);
        if (rc != 0)
            goto out_free;
    }
    for (size_t i = 0; i < n; i++)
        config_store(&table[i], target, &values[i]);

out_free:
    if (values) {
        for (size_t i = 0; i < n; i++)
            if (table[i].type == CONFIG_STRING || table[i].type == CONFIG_ENUM)
                free(values[i].s);
    }
    free(values);
    free(ld.slots);
    if (have_doc)
        yaml_document_delete(&doc);
    return rc;
}

int config_load_args(const config_option_t *table, size_t n, void *target, const char *service,
                     int argc, char **argv, char *err, size_t errlen)
{
    const char *path = NULL;
    bool print = false;
    int rc;

    if (err && errlen > 0)
        err[0] = '\0';
    for (int i = 1; i < argc && argv && argv[i]; i++) {
        const char *arg = argv[i];

        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            config_usage(table, n, service, stdout);
            return 1;
        } else if (strcmp(arg, "--print-config") == 0) {
            print = true;
        } else if (strcmp(arg, "--config") == 0) {
            if (i + 1 >= argc || !argv[i + 1]) {
                config_error(err, errlen, "--config needs a file name");
                return -EINVAL;
            }
            path = argv[++i];
        } else if (strncmp(arg, "--config=", 9) == 0) {
            path = arg + 9;
        } else {
            config_error(err, errlen, "unknown argument '%s' (try %s --help)", arg,
                         service ? service : "--help");
            return -EINVAL;
        }
    }
    if (!path) {
        path = getenv("OCPPGW_CONFIG");
        if (path && !*path)
            path = NULL;
    }
    rc = config_load(table, n, target, service, path, err, errlen);
    if (rc != 0)
        return rc;
    if (print) {
        config_print(table, n, target, stdout);
        return 1;
    }
    return 0;
}

void config_free(const config_option_t *table, size_t n, void *target)
{
    if (!table || !target)
        return;
    for (size_t i = 0; i < n; i++) {
        if (table[i].type == CONFIG_STRING || table[i].type == CONFIG_ENUM) {
            char **str = (char **)(void *)((char *)target + table[i].offset);

            free(*str);
            *str = NULL;
        }
    }
}

/* The value of one option as text, as it would be written in the file. */
static void config_format_value(const config_option_t *opt, const void *target, char *out,
                                size_t outlen)
{
    const char *field = (const char *)target + opt->offset;

    switch (opt->type) {
    case CONFIG_STRING:
    case CONFIG_ENUM: {
        const char *str = *(char *const *)(const void *)field;

        snprintf(out, outlen, "%s", str ? str : "");
        break;
    }
    case CONFIG_INT:
        snprintf(out, outlen, "%lld", (long long)*(const int64_t *)(const void *)field);
        break;
    case CONFIG_DURATION:
        config_format_duration(*(const int64_t *)(const void *)field, out, outlen);
        break;
    case CONFIG_BOOL:
        snprintf(out, outlen, "%s", *(const bool *)(const void *)field ? "true" : "false");
        break;
    }
}

void config_print(const config_option_t *table, size_t n, const void *target, FILE *out)
{
    if (!table || !target || !out)
        return;
    for (size_t i = 0; i < n; i++) {
        const config_option_t *opt = &table[i];

        if (!opt->name)
            continue;
        if (config_is_secret(opt->name)) {
            fprintf(out, "%s = ***\n", opt->name);
        } else {
            char value[4096];

            config_format_value(opt, target, value, sizeof(value));
            fprintf(out, "%s = %s\n", opt->name, value);
        }
    }
}

void config_usage(const config_option_t *table, size_t n, const char *service, FILE *out)
{
    const char *name = service ? service : "service";

    if (!out)
        return;
    fprintf(out,
            "Usage: %s [--config FILE] [--print-config] [--help]\n"
            "\n"
            "  --config FILE    YAML configuration file (default: $OCPPGW_CONFIG, else none)\n"
            "  --print-config   print the effective configuration and exit\n"
            "  --help           print this help and exit\n"
            "\n"
            "Settings go in the file under '%s:' (shared by all services) or '%s:' (this\n"
            "service, wins), or in the environment variable shown (wins over the file).\n"
            "\n",
            name, CONFIG_SECTION_COMMON, name);
    for (size_t i = 0; table && i < n; i++) {
        const config_option_t *opt = &table[i];
        char env[CONFIG_ENV_MAX];
        char kind[256];

        if (!opt->name || config_env_name(opt->name, env, sizeof(env)) != 0)
            continue;
        if (opt->type == CONFIG_STRING)
            snprintf(kind, sizeof(kind), "string");
        else
            config_describe_expected(opt, kind, sizeof(kind));
        fprintf(out, "  %s (%s): %s; default '%s'\n", opt->name, env, kind,
                opt->default_value ? opt->default_value : "");
        if (opt->help)
            fprintf(out, "      %s\n", opt->help);
    }
}
