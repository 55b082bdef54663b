// Fork-join team: every item runs exactly once, on the thread its index
// names, for one job after another.
#include "common/team.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "tests/check.h"

enum { MAX_ITEMS = 64 };

typedef struct Record {
    atomic_int runs[MAX_ITEMS];
    pthread_t thread[MAX_ITEMS];
} Record;

static void record_item(void *ctx, int i) {
    Record *r = ctx;
    atomic_fetch_add(&r->runs[i], 1);
    r->thread[i] = pthread_self();
}

static void each_item_runs_once(void) {
    for (int threads = 1; threads <= 3; threads++) {
        Team *team = team_create(threads);
        CHECK(team != NULL);
        CHECK_EQ_INT(threads, team_size(team));
        for (int n = 0; n <= 9; n++) {
            Record r;
            memset(&r, 0, sizeof r);
            team_run(team, record_item, &r, n);
            int once = 1;
            for (int i = 0; i < MAX_ITEMS; i++) {
                once &= atomic_load(&r.runs[i]) == (i < n ? 1 : 0);
            }
            CHECK_MSG(once, "threads=%d items=%d", threads, n);
        }
        team_destroy(team);
    }
}

// Item i runs on thread i % T; thread 0 is the caller.
static void items_land_on_their_thread(void) {
    enum { T = 3, N = 12 };
    Team *team = team_create(T);
    Record r;
    memset(&r, 0, sizeof r);
    team_run(team, record_item, &r, N);
    int caller_ok = 1, same_ok = 1, distinct_ok = 1;
    for (int i = 0; i < N; i++) {
        caller_ok &= (i % T == 0) == (pthread_equal(r.thread[i], pthread_self()) != 0);
        same_ok &= pthread_equal(r.thread[i], r.thread[i % T]) != 0;
    }
    distinct_ok = !pthread_equal(r.thread[1], r.thread[2]);
    CHECK(caller_ok);
    CHECK(same_ok);
    CHECK(distinct_ok);
    team_destroy(team);
}

typedef struct Sum {
    long partial[2];
} Sum;

static void sum_half(void *ctx, int i) {
    Sum *s = ctx;
    long acc = 0;
    for (long k = i; k < 200000; k += 2) {
        acc += k;
    }
    s->partial[i] = acc;
}

// Many short jobs in a row: the polling hand-off must not lose a job or
// return before the worker's half is written.
static void back_to_back_jobs(void) {
    Team *team = team_create(2);
    int all_right = 1;
    for (int job = 0; job < 2000; job++) {
        Sum s = {{-1, -1}};
        team_run(team, sum_half, &s, 2);
        all_right &= s.partial[0] + s.partial[1] == 199999L * 200000L / 2;
    }
    CHECK(all_right);
    team_destroy(team);
}

static void null_team_runs_in_order(void) {
    Record r;
    memset(&r, 0, sizeof r);
    team_run(NULL, record_item, &r, 5);
    int ok = 1;
    for (int i = 0; i < 5; i++) {
        ok &= atomic_load(&r.runs[i]) == 1 && pthread_equal(r.thread[i], pthread_self());
    }
    CHECK(ok);
    CHECK_EQ_INT(1, team_size(NULL));
    CHECK(team_create(0) == NULL);
}

int main(void) {
    RUN_TEST(each_item_runs_once);
    RUN_TEST(items_land_on_their_thread);
    RUN_TEST(back_to_back_jobs);
    RUN_TEST(null_team_runs_in_order);
    return check_summary();
}
