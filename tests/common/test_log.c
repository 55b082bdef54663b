// Logger: line format, level filter and sink replacement.
#include "common/log.h"

#include "tests/check.h"

static char last_line[2048];
static int lines_seen = 0;

static void capture(LogLevel level, const char *line, void *ctx) {
    (void)level;
    (void)ctx;
    snprintf(last_line, sizeof last_line, "%s", line);
    lines_seen++;
}

static void format_has_timestamp_and_level(void) {
    log_set_sink(capture, NULL);
    log_set_level(LOG_DEBUG);
    log_info("step=%d loss=%.2f", 3, 0.5);
    // "YYYY-MM-DDTHH:MM:SS.mmm I step=3 loss=0.50"
    CHECK(strlen(last_line) > 24);
    CHECK(last_line[4] == '-');
    CHECK(last_line[10] == 'T');
    CHECK(last_line[19] == '.');
    CHECK(last_line[24] == 'I');
    CHECK_STR_CONTAINS(last_line, " I step=3 loss=0.50");
    log_warn("x");
    CHECK(last_line[24] == 'W');
    log_set_sink(NULL, NULL);
}

static void level_filter_drops_lines(void) {
    log_set_sink(capture, NULL);
    log_set_level(LOG_WARN);
    int before = lines_seen;
    log_info("dropped");
    log_debug("dropped");
    CHECK_EQ_INT(before, lines_seen);
    log_error("kept");
    CHECK_EQ_INT(before + 1, lines_seen);
    log_set_level(LOG_INFO);
    log_set_sink(NULL, NULL);
}

static void level_names_parse(void) {
    CHECK_EQ_INT(LOG_DEBUG, log_level_parse("debug"));
    CHECK_EQ_INT(LOG_ERROR, log_level_parse("error"));
    CHECK_EQ_INT(-1, log_level_parse("loud"));
}

int main(void) {
    RUN_TEST(format_has_timestamp_and_level);
    RUN_TEST(level_filter_drops_lines);
    RUN_TEST(level_names_parse);
    return check_summary();
}
