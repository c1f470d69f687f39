"""Local doubles of the outside world (Discord, providers) for tests, benches and the demo.

Nothing here imports the bot's own packages: the bot depends on the sandbox only lazily
(the `demo` sub-command), never the other way round.
"""
