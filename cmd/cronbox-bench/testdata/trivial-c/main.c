/* trivial-c is the benchmark's C SDK task: it logs one line and sets a
 * result, as the smallest useful task does. */
#define CRONBOX_IMPLEMENTATION
#include "cronbox.h"

int main(void) {
    cronbox_info("tick", NULL);
    return cronbox_result("{\"ticks\":1}") != 0;
}
