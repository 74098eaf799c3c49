#include <stdio.h>
int main (void) { puts ("testinit"); return 0; }
