// The face crops the tests run on: tests/fixtures/faces (carried by the repository, made by its
// make_faces.sh), or the folder AGESHIFT_FACES names, with the same young/ and old/ layout
// (`make test-data` runs the face tests again on the real UTKFace crops of ../shared/faces).
#ifndef AGESHIFT_TESTS_FACES_H
#define AGESHIFT_TESTS_FACES_H

#include <stdbool.h>
#include <stddef.h>

#define TEST_FACES_DEFAULT "tests/fixtures/faces"

// The same folder, as a shell word for the commands the tests run.
#define TEST_FACES_SH "${AGESHIFT_FACES:-" TEST_FACES_DEFAULT "}"

const char *test_faces_dir(void);

// The absolute path of the k-th file (in name order, hidden files left out) of faces/SUB whose
// name starts with PREFIX (NULL: any) and for which PRED holds (NULL: any); false when there
// is none.
bool test_face(const char *sub, const char *prefix, bool (*pred)(const char *), int k, char *out,
               size_t len);

// As test_face, into out (PATH_MAX bytes), failing the test when there is no such face.
void test_need_face(const char *sub, const char *prefix, int k, char *out);

#endif
