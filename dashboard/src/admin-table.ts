/** The plain table of the engineering and administration pages (style.css `.admin-table`); text only, through textContent. */
import { el } from './dom.ts';

export function adminTable(headers: readonly string[], rows: readonly (readonly string[])[]): HTMLTableElement {
  const node = el('table', 'admin-table');
  const head = el('thead');
  const headRow = el('tr');
  for (const header of headers) {
    const cell = el('th', undefined, header);
    cell.scope = 'col';
    headRow.append(cell);
  }
  head.append(headRow);
  const body = el('tbody');
  for (const row of rows) {
    const line = el('tr');
    for (const value of row) line.append(el('td', undefined, value));
    body.append(line);
  }
  node.append(head, body);
  return node;
}
