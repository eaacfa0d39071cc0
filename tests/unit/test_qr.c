/*
 * test_qr.c — unit tests for src/core/qr.c: the SVG's module matrix,
 * read back from its path, is libqrencode's own for the same text (byte
 * mode, level M), with the quiet zone; the limits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <qrencode.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/qr.h"
#include "util/buf.h"
#include "util/pt.h"

/* The dark modules the SVG draws: every "M x,y h n v 1 h -n z" run, in
 * module coordinates without the margin.  Fails the test on any other
 * shape.  Returns the side in modules (the viewBox's minus the margin). */
static int svg_matrix(const char *svg, unsigned char *m, int cap)
{
	int vb = 0, vb2 = 0;
	const char *p = strstr(svg, "viewBox=\"0 0 ");
	assert_non_null(p);
	assert_int_equal(sscanf(p, "viewBox=\"0 0 %d %d\"", &vb, &vb2), 2);
	assert_int_equal(vb, vb2);
	int w = vb - 2 * QR_MARGIN;
	assert_true(w >= 21 && w <= cap);
	memset(m, 0, (size_t)w * (size_t)w);
	p = strstr(svg, " d=\"");
	assert_non_null(p);
	p += 4;
	while (*p == 'M') {
		int x, y, n, n2, used = 0;
		assert_int_equal(sscanf(p, "M%d,%dh%dv1h-%dz%n", &x, &y, &n, &n2, &used), 4);
		assert_true(used > 0);
		assert_int_equal(n, n2);
		x -= QR_MARGIN;
		y -= QR_MARGIN;
		/* inside the code: the quiet zone stays white */
		assert_true(x >= 0 && y >= 0 && n >= 1 && x + n <= w && y < w);
		for (int i = 0; i < n; i++) {
			assert_int_equal(m[y * w + x + i], 0); /* runs do not overlap */
			m[y * w + x + i] = 1;
		}
		p += used;
	}
	assert_int_equal(*p, '"');
	return w;
}

static void check_text(const char *text)
{
	struct pt_buf b;
	static unsigned char m[177 * 177];

	pt_buf_init(&b, 1 << 20);
	assert_int_equal(qr_svg(&b, text, strlen(text)), 0);
	assert_true(strncmp(b.p, "<svg xmlns=\"http://www.w3.org/2000/svg\"", 39) == 0);
	assert_non_null(strstr(b.p, "<rect width=\""));
	int w = svg_matrix(b.p, m, 177);
	QRcode *q = QRcode_encodeString8bit(text, 0, QR_ECLEVEL_M);
	assert_non_null(q);
	assert_int_equal(w, q->width);
	for (int y = 0; y < w; y++)
		for (int x = 0; x < w; x++)
			if (m[y * w + x] != (q->data[y * w + x] & 1))
				fail_msg("module (%d, %d) of %s: svg %d, qrencode %d", x, y, text,
					 m[y * w + x], q->data[y * w + x] & 1);
	QRcode_free(q);
	pt_buf_release(&b);
}

static void test_matrix(void **state)
{
	check_text("https://partage.example/AbCdEfGhIjKl");
	check_text("http://127.0.0.1:8080/0aZ9bY8cX7dW");
	/* a longer public_url: a larger version, still the same modules */
	check_text("https://files.example.org/a/very/long/prefix/for/a/partage/behind/a/proxy/"
		   "with/many/segments/in/its/public/url/0aZ9bY8cX7dW");
}

static void test_known_version(void **state)
{
	/* 36 bytes at level M: version 3, 29 modules a side, 37 with the
	 * quiet zone */
	struct pt_buf b;
	pt_buf_init(&b, 1 << 16);
	assert_int_equal(qr_svg(&b, "https://partage.example/AbCdEfGhIjKl", 36), 0);
	assert_non_null(strstr(b.p, "viewBox=\"0 0 37 37\""));
	pt_buf_release(&b);
}

static void test_limits(void **state)
{
	struct pt_buf b;
	char *big = malloc(QR_MAX_BYTES + 2);
	memset(big, 'a', QR_MAX_BYTES + 1);
	big[QR_MAX_BYTES + 1] = '\0';

	pt_buf_init(&b, 4 << 20);
	assert_int_equal(qr_svg(&b, "", 0), PT_EBADREQ);
	assert_int_equal(qr_svg(&b, big, QR_MAX_BYTES + 1), PT_EBADREQ);
	assert_int_equal(b.n, 0);
	/* the most a level M code holds: version 40 (177 modules) */
	assert_int_equal(qr_svg(&b, big, QR_MAX_BYTES), 0);
	assert_non_null(strstr(b.p, "viewBox=\"0 0 185 185\""));
	pt_buf_release(&b);
	/* a ceiling too low: PT_ETOOBIG, never a cut SVG passed as whole */
	pt_buf_init(&b, 300);
	assert_int_equal(qr_svg(&b, "https://partage.example/AbCdEfGhIjKl", 36), PT_ETOOBIG);
	pt_buf_release(&b);
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_matrix),
		cmocka_unit_test(test_known_version),
		cmocka_unit_test(test_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
