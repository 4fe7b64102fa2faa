"""`chaoslab experiment`: one OutageScenario under several client-policy profiles, compared.

`labtuning` shapes the lab an experiment runs on, `scenario` reads and shortens scenario
manifests, `runner` drives one lab per profile through warm-up, fault and observation,
`compare` turns the game-day reports into the comparison table (pure), `plot` draws it and
`command` is the command line.
"""
