// MP4 through an ffmpeg child process, or numbered PNG files.
#include "viz/record.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <png.h>

#include "common/error.h"
#include "common/fileio.h"

int viz_ffmpeg_available(void) {
    const char *path = getenv("PATH");
    if (!path) {
        return 0;
    }
    char dir[1024], exe[1100];
    const char *p = path;
    while (*p) {
        size_t n = strcspn(p, ":");
        snprintf(dir, sizeof dir, "%.*s", (int)n, p);
        snprintf(exe, sizeof exe, "%s/ffmpeg", n ? dir : ".");
        if (access(exe, X_OK) == 0) {
            return 1;
        }
        p += n + (p[n] == ':');
    }
    return 0;
}

// Starts ffmpeg reading raw RGB frames on its standard input.
static int start_ffmpeg(VizRecorder *rec, char *err, size_t err_sz) {
    char size[32], rate[16];
    snprintf(size, sizeof size, "%dx%d", rec->width, rec->height);
    snprintf(rate, sizeof rate, "%d", rec->fps);
    int fds[2];
    if (pipe(fds) != 0) {
        return err_set(err, err_sz, ERR_IO, "pipe to ffmpeg failed: %s", strerror(errno));
    }

    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return err_set(err, err_sz, ERR_IO, "fork for ffmpeg failed: %s", strerror(errno));
    }
    if (pid == 0) {
        // child: stdin is the pipe. yuv420p needs even sizes, hence the pad.
        dup2(fds[0], STDIN_FILENO);
        close(fds[0]);
        close(fds[1]);
        execlp("ffmpeg", "ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f",
               "rawvideo", "-pix_fmt", "rgb24", "-s", size, "-r", rate, "-i", "-", "-vf",
               "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-c:v", "libx264", "-pix_fmt", "yuv420p",
               rec->path, (char *)NULL);
        fprintf(stderr, "conal view: cannot run ffmpeg: %s\n", strerror(errno));
        _exit(127);
    }

    // parent: keeps the write end
    close(fds[0]);
    rec->pipe = fdopen(fds[1], "wb");
    rec->pid = pid;
    if (!rec->pipe) {
        // ffmpeg reads end of file and exits; reap it
        close(fds[1]);
        waitpid(pid, NULL, 0);
        rec->pid = -1;
        return err_set(err, err_sz, ERR_IO, "fdopen of the ffmpeg pipe failed");
    }
    // a dead ffmpeg must surface as a write error, not kill the viewer
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

int viz_recorder_open(VizRecorder *rec, const char *out, VizFormat format, int width,
                      int height, int fps, char *err, size_t err_sz) {
    memset(rec, 0, sizeof *rec);
    rec->width = width;
    rec->height = height;
    rec->fps = fps;
    rec->pid = -1;
    int have_ffmpeg = viz_ffmpeg_available();
    if (format == VIZ_FORMAT_MP4 && !have_ffmpeg) {
        return err_set(err, err_sz, ERR_ARG,
                       "--format mp4: the ffmpeg program is not on PATH; install it "
                       "(apt-get install ffmpeg) or use --format png");
    }
    rec->format = format == VIZ_FORMAT_AUTO ? (have_ffmpeg ? VIZ_FORMAT_MP4 : VIZ_FORMAT_PNG)
                                            : format;

    // OUT and OUT.mp4 name the same recording
    size_t n = strlen(out);
    int has_ext = n > 4 && strcmp(out + n - 4, ".mp4") == 0;
    int stem = (int)(has_ext ? n - 4 : n);
    // the folder the frames go to exists before the first frame: OUT's
    // parent for MP4, OUT itself for PNG
    char dir[sizeof rec->path];
    if (rec->format == VIZ_FORMAT_MP4) {
        snprintf(rec->path, sizeof rec->path, "%.*s.mp4", stem, out);
        const char *slash = strrchr(rec->path, '/');
        snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - rec->path) : 0, rec->path);
    } else {
        snprintf(rec->path, sizeof rec->path, "%.*s", stem, out);
        snprintf(dir, sizeof dir, "%s", rec->path);
    }
    char why[1200] = "";
    if (dir[0] && file_mkdirs(dir, why, sizeof why) != 0) {
        return err_set(err, err_sz, ERR_IO, "--record %s: cannot create the folder %s (%s)",
                       out, dir, why);
    }
    return rec->format == VIZ_FORMAT_MP4 ? start_ffmpeg(rec, err, err_sz) : 0;
}

int viz_recorder_write(VizRecorder *rec, const unsigned char *rgb, char *err, size_t err_sz) {
    if (rec->format == VIZ_FORMAT_MP4) {
        size_t bytes = (size_t)rec->width * (size_t)rec->height * 3;
        if (!rec->pipe || fwrite(rgb, 1, bytes, rec->pipe) != bytes) {
            return err_set(err, err_sz, ERR_IO,
                           "writing frame %ld to ffmpeg failed (did ffmpeg exit? its "
                           "messages are above)",
                           rec->frames);
        }
    } else {
        char path[1200];
        snprintf(path, sizeof path, "%s/%06ld.png", rec->path, rec->frames);
        int rc = viz_png_write(path, rgb, rec->width, rec->height, err, err_sz);
        if (rc != 0) {
            return rc;
        }
    }
    rec->frames++;
    return 0;
}

int viz_recorder_close(VizRecorder *rec, char *err, size_t err_sz) {
    if (rec->format != VIZ_FORMAT_MP4 || rec->pid < 0) {
        return 0;
    }
    if (rec->pipe) {
        fclose(rec->pipe);
        rec->pipe = NULL;
    }
    int status = 0;
    pid_t pid = rec->pid;
    rec->pid = -1;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            return err_set(err, err_sz, ERR_IO, "waiting for ffmpeg failed: %s",
                           strerror(errno));
        }
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        return err_set(err, err_sz, ERR_IO, "ffmpeg failed (status %d) writing %s", status,
                       rec->path);
    }
    return 0;
}

int viz_png_write(const char *path, const unsigned char *rgb, int width, int height,
                  char *err, size_t err_sz) {
    FILE *f = fopen(path, "wb");
    if (!f) {
        return err_set(err, err_sz, ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    }
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info || setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        fclose(f);
        return err_set(err, err_sz, ERR_IO, "%s: libpng failed to write the image", path);
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8, PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < height; y++) {
        png_write_row(png, rgb + (size_t)y * (size_t)width * 3);
    }
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    if (fclose(f) != 0) {
        return err_set(err, err_sz, ERR_IO, "%s: write failed: %s", path, strerror(errno));
    }
    return 0;
}
