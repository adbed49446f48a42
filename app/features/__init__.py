"""Shared machinery of spatial collections: features built as text in SQL, streamed, paged."""
