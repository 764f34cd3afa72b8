"""Pure value types and rules with no I/O: names, references, content hashes, lineage."""
