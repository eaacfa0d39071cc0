/*
 * embed.c — build tool: turns the files of web/ into a C table so partaged
 * serves its pages and assets from the binary.  Usage: embed OUT.c FILE...
 * Generates `const struct web_asset web_assets[]` (see src/http/web.h).
 */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	FILE *out = fopen(argv[1], "w");
	if (!out) {
		perror(argv[1]);
		return 1;
	}
	fprintf(out, "#include \"http/web.h\"\n");
	for (int i = 2; i < argc; i++) {
		FILE *in = fopen(argv[i], "rb");
		int c;
		size_t n = 0;
		if (!in) {
			perror(argv[i]);
			return 1;
		}
		fprintf(out, "static const unsigned char a%d[] = {", i);
		while ((c = fgetc(in)) != EOF)
			fprintf(out, "%s%d,", n++ % 20 ? "" : "\n", c);
		fprintf(out, "0};\n");
		fclose(in);
	}
	fprintf(out, "const struct web_asset web_assets[] = {\n");
	for (int i = 2; i < argc; i++) {
		const char *base = strrchr(argv[i], '/');
		base = base ? base + 1 : argv[i];
		fprintf(out, "  { \"%s\", a%d, sizeof(a%d) - 1 },\n", base, i, i);
	}
	fprintf(out, "  { 0, 0, 0 }\n};\n");
	return fclose(out) ? 1 : 0;
}
