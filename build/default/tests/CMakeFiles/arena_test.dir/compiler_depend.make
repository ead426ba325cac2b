# Empty compiler generated dependencies file for arena_test.
# This may be replaced when dependencies are built.
