// Monotonic time, for measuring durations (never a date): CLOCK_MONOTONIC.
#ifndef AGESHIFT_CLOCK_H
#define AGESHIFT_CLOCK_H

#include <stdint.h>

double clock_now_s(void);
int64_t clock_now_us(void);

#endif
