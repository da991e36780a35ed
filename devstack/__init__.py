"""The embedded local stack: moto as AWS, the axis simulator, a local PKI, demo agencies and users.

Development, demo and test only: production code never imports this package (import-linter forbids it), and it
lives outside `chalicelib/` so that `chalice package` never ships it or its demo password.

Where things are, by concern:
- `stack` (the stack orchestrated: `Stack`, `start_stack`, `StackHandle`), `cli` (`python -m devstack run`),
  `config` (ports, region, state directory), `net` (start-up waits), `parts` (the service processes:
  `moto_server` for moto, `sim_server` for the axis simulator with the PKI);
- `chalice_app` (the app loaded and served as Lambda and API Gateway would), `worker` and `workers` (one process
  per function, under its own role), `pump` (Lambda's SQS pollers and EventBridge schedules), `lambda_events` (the
  event and context look-alikes), `schedules` (rate/cron);
- `provision` (the AWS resources on moto, kept in step with infra/, and `provision.iam`: the roles from the
  template), `moto_fixes`, `moto_iam` (moto's IAM checks completed where they depart from AWS), `moto_speed`
  (moto's per-request dispatcher costs removed);
- `call_log` (each function's AWS calls recorded) and `iam_policy` (those calls checked against its policy);
- `axis_simulator` with `axis_sim` (state, faults, HTTP), `pki` and `pki_server` (demo CA, OCSP, CRL, TSA),
  `softhsm` (PKCS#11 tokens);
- `demo_data` and `demo_samples.json` (the demo seed), `demo` (`make demo`), `client` (an outside client),
  `drive` (outside clients driving documents and the check at the axis), `chaos_run` (`make chaos`), `load_run`
  (`make bench-load`), `proc_stats` (CPU and peak RSS from /proc, call counts), `sampler` (a sampling profiler);
- test and picture helpers: `pdftools`, `sample_pdf`, `seal`, `stamp_example`.
"""
