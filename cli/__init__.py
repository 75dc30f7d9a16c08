"""The platform's command line (`platform ...`) and the demo: the outermost room.

Every command parses options, calls a public API of a room below (pipelines, webhook_receiver,
inbox, mappings, sandbox, dagster_project) and prints. No other room may import `cli`: nothing
here is a dependency of the platform, only a way to drive it.
"""
