/*
 * jobs: the maintenance jobs (retention). One list of purge functions, run once by the `purge`
 * command and periodically by a thread of `serve`. Each job deletes what its retention rule
 * says and reports what it did in one line; none deletes audit entries.
 */
#ifndef PD_JOBS_H
#define PD_JOBS_H

#include "buf.h"
#include "config.h"
#include "store.h"

typedef struct jobs jobs;

/* one purge job: appends a short report ("tickets: 3 purged") to out; never logs personal data */
typedef int (*job_fn)(store *s, const config *cfg, long long now_us, buf *out);

/* runs every job once at the wall time now_us; the first error is returned, the others run */
int jobs_run_once(store *s, const config *cfg, long long now_us, buf *report);

/* a thread that runs the jobs every cfg->retention.interval_s seconds (and once at start) */
int jobs_start(store *s, const config *cfg, jobs **out);
/* stops and joins the thread; NULL is fine */
void jobs_stop(jobs *j);

#endif
