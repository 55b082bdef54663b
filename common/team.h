// Fork-join team: a fixed set of threads that run the items of one job
// together and return when every item is done.
//
// The caller is thread 0 and takes its share of the items. The other
// threads wait between jobs, polling briefly and then sleeping. Item i always runs on thread i % n_threads,
// so a job whose items write disjoint memory gives the same result for any
// team size.
#ifndef CONAL_COMMON_TEAM_H
#define CONAL_COMMON_TEAM_H

typedef struct Team Team;

// One item of a job: ctx is the job's argument, item its index.
typedef void (*TeamFn)(void *ctx, int item);

// A team of n_threads (the caller plus n_threads - 1 workers), or NULL when
// n_threads is below 1 or a thread cannot start.
Team *team_create(int n_threads);
void team_destroy(Team *team);

// Returns the threads in the team, the caller included, or 1 for a NULL team.
int team_size(const Team *team);

// Runs fn(ctx, i) for i in 0..n_items-1 and waits for all of them. A NULL
// team runs the items in order on the caller. Jobs do not nest: an item must
// not call team_run on the same team.
void team_run(Team *team, TeamFn fn, void *ctx, int n_items);

#endif
