/* Being written. */
typedef int mt_placeholder_skiplist;
