"""Work off the request path: a queue of jobs (bulk exports) and the scheduled jobs, both run
by ``scipass worker``, never by the API process."""
