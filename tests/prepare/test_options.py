"""PrepareOptions, the one source of prepare's options: defaults and the advice built from them."""

from __future__ import annotations

import dataclasses

from tokenmill.prepare import PrepareOptions, prepare


def test_prepare_keyword_defaults_equal_the_options_dataclass() -> None:
    import dataclasses
    import inspect

    parameters = inspect.signature(prepare).parameters
    fields = {f.name: f.default for f in dataclasses.fields(PrepareOptions)}
    keywords = {k: p.default for k, p in parameters.items() if p.kind is p.KEYWORD_ONLY}
    # storage_options says how to reach a URL --out, not how to make the store: Python only
    assert keywords.pop("storage_options") is None
    assert keywords == fields

def test_repair_advice_names_the_options_that_differ_from_their_defaults() -> None:
    defaults = PrepareOptions()
    assert defaults.command_words("gpt2") == []
    flags = {f.name: f.metadata["flag"] for f in dataclasses.fields(PrepareOptions)}
    assert set(defaults.manifest_options("gpt2")) <= set(flags)
    assert PrepareOptions(val_fraction=0.1, shard_tokens=5).command_words("gpt2") == [
        "--val-fraction", "0.1", "--shard-tokens", "5"
    ]
