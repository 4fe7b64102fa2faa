"""`chaoslab watch`: the live terminal view of a running lab, where there is no Grafana.

`frame` turns a `Snapshot` into text and knows nothing of the network; `sources` fills a
`Snapshot` from Prometheus (the dashboards' own expressions) and the Kubernetes API;
`command` is the command line and the once-a-second terminal loop.
"""
