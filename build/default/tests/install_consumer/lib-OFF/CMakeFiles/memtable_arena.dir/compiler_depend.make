# Empty compiler generated dependencies file for memtable_arena.
# This may be replaced when dependencies are built.
