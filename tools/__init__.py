"""Developer tools: benchmarks, fault injection, fuzzing, pictures and checks for the docs.

Never shipped in the image; run from a checkout (`python -m tools.bench`, ...)."""
