// Writing recorded frames: an MP4 through the ffmpeg program, or PNG files.
//
// Frames are packed RGB, 8 bits per channel, top row first. The MP4 path
// starts `ffmpeg` (found on PATH) and writes raw frames to its standard
// input. ffmpeg encodes H.264 in yuv420p and pads odd sizes by one pixel.
// The PNG path writes OUT/000000.png, OUT/000001.png ... with libpng.
#ifndef VIZ_RECORD_H
#define VIZ_RECORD_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

typedef enum VizFormat {
    VIZ_FORMAT_AUTO = 0,     // MP4 when ffmpeg is on PATH, else PNG
    VIZ_FORMAT_MP4,
    VIZ_FORMAT_PNG,
} VizFormat;

typedef struct VizRecorder {
    VizFormat format;        // MP4 or PNG once open
    char path[1100];         // OUT.mp4, or the folder OUT of the PNG frames
    int width, height, fps;
    long frames;             // frames written
    FILE *pipe;              // ffmpeg's standard input (MP4)
    pid_t pid;               // ffmpeg's process id (MP4)
} VizRecorder;

// 1 when an executable named ffmpeg is on PATH.
int viz_ffmpeg_available(void);

// Starts a recording of width x height frames at fps. out is OUT or
// OUT.mp4; the result is OUT.mp4 or the folder OUT (created if missing).
// Returns 0, ERR_ARG when MP4 was requested without ffmpeg, or ERR_IO.
int viz_recorder_open(VizRecorder *rec, const char *out, VizFormat format, int width,
                      int height, int fps, char *err, size_t err_sz);

// Appends one frame (height x width x 3 bytes). Returns 0 or ERR_IO.
int viz_recorder_write(VizRecorder *rec, const unsigned char *rgb, char *err, size_t err_sz);

// Finishes the file: closes ffmpeg's input and waits for it. Returns 0, or
// ERR_IO when ffmpeg failed. Safe to call twice.
int viz_recorder_close(VizRecorder *rec, char *err, size_t err_sz);

// Writes one RGB image (height x width x 3, top row first) as a PNG file.
int viz_png_write(const char *path, const unsigned char *rgb, int width, int height,
                  char *err, size_t err_sz);

#endif
