"""The loader: token IDs -> sliding windows -> batches, in the book's order or a seeded, resumable one.

``create_dataloader`` (``dataloader``) takes what ``sources`` recognises (text, token IDs, a token
store or its path), windows it with ``WindowDataset`` (``dataset``) and batches it in the book's
order (``book_sampler``) or a seeded, rank-aware one (``seeded_sampler``, over ``permutation``),
whose state dicts ``state`` checks and ``stateful`` restores through torchdata.

Pitfall: this front imports nothing, so that ``tokenmill.loader.permutation`` and
``tokenmill.loader.state`` stay free of torch; import the names from their modules, or from
``tokenmill`` (``tokenmill.create_dataloader``, ``tokenmill.WindowDataset``).
"""
