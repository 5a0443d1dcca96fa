/**
 * The few DOM helpers the views share. Text only ever goes in through textContent:
 * alert titles, evidence and device summaries come from the network and may carry
 * attacker-controlled strings (a payload is whatever the sender published).
 */

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, className?: string, text?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className !== undefined) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Writes text only when it changed, so an unchanged update does not touch layout. */
export function setText(node: Node, text: string): void {
  if (node.textContent !== text) node.textContent = text;
}

export function setHidden(node: HTMLElement, hidden: boolean): void {
  if (node.hidden !== hidden) node.hidden = hidden;
}

export function setData(node: HTMLElement, key: string, value: string): void {
  if (node.dataset[key] !== value) node.dataset[key] = value;
}

/** The page's fixed skeleton (index.html); a missing hook is a build mistake, so fail loudly. */
export function requireElement<T extends Element>(id: string, type: new () => T): T {
  const node = document.getElementById(id);
  if (!(node instanceof type)) throw new Error(`dashboard: #${id} is missing from index.html or is not a ${type.name}`);
  return node;
}
