// Small helpers to build table rows from text: text only (textContent), so
// names that came from other sites can never become markup.

export function cell(text: string | number, className?: string): HTMLTableCellElement {
  const td = document.createElement('td');
  td.textContent = String(text);
  if (className) td.className = className;
  return td;
}

export function row(cells: HTMLTableCellElement[], className?: string): HTMLTableRowElement {
  const tr = document.createElement('tr');
  tr.append(...cells);
  if (className) tr.className = className;
  return tr;
}

/** Replaces a table's body rows; an empty list shows one row saying so. */
export function fillBody(tableId: string, rows: HTMLTableRowElement[], empty: string): void {
  const body = document.querySelector<HTMLTableSectionElement>(`#${tableId} tbody`);
  if (!body) return;
  if (rows.length === 0) {
    const columns = document.querySelectorAll(`#${tableId} thead th`).length;
    const td = cell(empty, 'empty');
    td.colSpan = columns;
    rows = [row([td])];
  }
  body.replaceChildren(...rows);
}

export function byId<T extends HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`the page has no #${id}`);
  return element as T;
}
