// Writes dlib's own face boxes and 68 landmarks for the golden landmark test: built and run only
// by tests/golden/make_landmarks.sh (needs Debian's libdlib-dev), never by the build or tests.
//
//   dlib_landmarks MODEL.dat NAME=FILE ...
//
// Each FILE is a binary 8-bit PGM (P5), read byte for byte, or a JPEG or PNG, read by dlib
// (its own decoder and grey conversion: for measuring boxes, not for golden points); for every face dlib's HOG detector finds in it, prints
// one line: NAME, the box (left top right bottom, dlib's inclusive pixel rectangle) and the 68
// points x0 y0 ... x67 y67, tab-separated, as dlib's shape_predictor gives them (whole pixels).
#include <dlib/image_processing.h>
#include <dlib/image_io.h>
#include <dlib/image_processing/frontal_face_detector.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>

static bool read_pgm(const std::string &path, dlib::array2d<unsigned char> &img)
{
    std::ifstream in(path, std::ios::binary);
    std::string magic;
    long w, h, maxval;
    if (!(in >> magic >> w >> h >> maxval) || magic != "P5" || maxval != 255 || w < 1 || h < 1)
        return false;
    in.get(); // the single white-space byte before the pixels
    img.set_size(h, w);
    for (long y = 0; y < h; y++)
        if (!in.read(reinterpret_cast<char *>(&img[y][0]), w))
            return false;
    return true;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        std::fprintf(stderr, "usage: %s MODEL.dat NAME=FILE ...\n", argv[0]);
        return 2;
    }
    dlib::shape_predictor sp;
    dlib::deserialize(argv[1]) >> sp;
    dlib::frontal_face_detector detect = dlib::get_frontal_face_detector();
    for (int i = 2; i < argc; i++) {
        std::string arg = argv[i];
        size_t eq = arg.find('=');
        dlib::array2d<unsigned char> img;
        std::string file = eq == std::string::npos ? "" : arg.substr(eq + 1);
        bool pgm = file.size() > 4 && file.compare(file.size() - 4, 4, ".pgm") == 0;
        if (file.empty() || (pgm && !read_pgm(file, img))) {
            std::fprintf(stderr, "%s: expected NAME=FILE, FILE an 8-bit binary PGM\n", argv[i]);
            return 1;
        }
        if (!pgm)
            dlib::load_image(img, file);
        for (const dlib::rectangle &r : detect(img)) {
            dlib::full_object_detection s = sp(img, r);
            std::cout << arg.substr(0, eq) << '\t' << r.left() << '\t' << r.top() << '\t'
                      << r.right() << '\t' << r.bottom();
            for (unsigned long k = 0; k < s.num_parts(); k++)
                std::cout << '\t' << s.part(k).x() << '\t' << s.part(k).y();
            std::cout << '\n';
        }
    }
    return 0;
}
