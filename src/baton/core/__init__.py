"""The pure core: baton's vocabulary, events and their hash chain, the plan, an item's
folded state, the loop's decision, bookkeeping and the records plugins are handed.

Nothing here performs I/O or imports from outside this package: every decision baton
makes can be tested, replayed and reasoned about from an item's events alone.
"""
