/** The plain table of the engineering and administration pages (style.css `.admin-table`); text only, through textContent. */
import { el } from './dom.ts';

/** A table of `className` with its column headers (scope=col) and an empty body for the caller's rows. */
export function headedTable(className: string, headers: readonly string[]): { readonly table: HTMLTableElement; readonly body: HTMLTableSectionElement } {
  const table = el('table', className);
  const head = el('thead');
  const headRow = el('tr');
  for (const header of headers) {
    const cell = el('th', undefined, header);
    cell.scope = 'col';
    headRow.append(cell);
  }
  head.append(headRow);
  const body = el('tbody');
  table.append(head, body);
  return { table, body };
}

export function adminTable(headers: readonly string[], rows: readonly (readonly string[])[]): HTMLTableElement {
  const { table, body } = headedTable('admin-table', headers);
  for (const row of rows) {
    const line = el('tr');
    for (const value of row) line.append(el('td', undefined, value));
    body.append(line);
  }
  return table;
}
