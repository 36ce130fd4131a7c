"""Background jobs: the runner and what each kind of job does."""
