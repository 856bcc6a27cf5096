/* csv: one cell of a CSV export, quoted as RFC 4180 asks and neutralised when a spreadsheet would run it as a formula. */
#ifndef PAY_CSV_H
#define PAY_CSV_H

#include "base/buf.h"

/*
 * CSV cells as RFC 4180 writes them, safe to open in a spreadsheet. A cell
 * that a spreadsheet would run as a formula (its first character one of
 * = + - @, a tab or a carriage return) gets a leading apostrophe inside
 * quotes; quotes, commas and line breaks are quoted, a quote doubled. The
 * same characters later in a cell are data and left as they are.
 */
void csv_cell(struct buf *out, const char *v);

#endif
