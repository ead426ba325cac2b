CMakeFiles/memtable_memtable.dir/memtable/memtable.c.o: \
 /work/main/memtable/memtable.c /usr/include/stdc-predef.h
