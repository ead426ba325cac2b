file(REMOVE_RECURSE
  "libmemtable.a"
)
