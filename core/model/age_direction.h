// Which of a model's two generators: young to old (G_A2B) or old to young (G_B2A). Its own
// header so that the filter's public API can name it without the network stack.
#ifndef AGESHIFT_AGE_DIRECTION_H
#define AGESHIFT_AGE_DIRECTION_H

typedef enum { AGE_OLDER, AGE_YOUNGER } AgeDirection;

#endif
