#include <stdio.h>

int main(void)
{
    puts("hello from the build sandbox");
    return 0;
}
