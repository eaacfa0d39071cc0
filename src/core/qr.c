/*
 * qr.c — a text as a QR code in SVG: libqrencode makes the module matrix,
 * this file draws it (qr.h).  Each row is drawn as runs of dark modules,
 * one path segment per run: a version 10 code (a link of 150 bytes) is a
 * few kilobytes.
 */
#include "qr.h"

#include <errno.h>
#include <qrencode.h>

#include "../util/banned.h"

int qr_svg(struct pt_buf *out, const char *text, size_t len)
{
	if (!len || len > QR_MAX_BYTES)
		return PT_EBADREQ;
	QRcode *q = QRcode_encodeData((int)len, (const unsigned char *)text, 0,
				      QR_ECLEVEL_M);
	if (!q)
		/* ERANGE: too long for any version; EINVAL cannot happen
		 * (byte mode, len > 0); ENOMEM: the x* policy */
		return errno == ENOMEM ? -ENOMEM : PT_EBADREQ;
	int w = q->width, side = w + 2 * QR_MARGIN, rc = 0;
	rc |= pt_buf_addf(out,
			  "<svg xmlns=\"http://www.w3.org/2000/svg\" "
			  "width=\"%d\" height=\"%d\" "
			  "viewBox=\"0 0 %d %d\" shape-rendering=\"crispEdges\">"
			  "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/>"
			  "<path fill=\"#000\" d=\"",
			  side * QR_PX, side * QR_PX, side, side, side, side);
	for (int y = 0; y < w && !rc; y++)
		for (int x = 0; x < w;) {
			/* bit 0 of each byte: dark module */
			if (!(q->data[y * w + x] & 1)) {
				x++;
				continue;
			}
			int n = 1;
			while (x + n < w && (q->data[y * w + x + n] & 1))
				n++;
			rc |= pt_buf_addf(out, "M%d,%dh%dv1h-%dz",
					  x + QR_MARGIN, y + QR_MARGIN, n, n);
			x += n;
		}
	if (!rc)
		rc = pt_buf_adds(out, "\"/></svg>\n");
	QRcode_free(q);
	return rc ? PT_ETOOBIG : 0;
}
