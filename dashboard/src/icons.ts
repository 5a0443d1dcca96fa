/**
 * Icons drawn in code: the agent serves only app.js and style.css, so there are no image
 * files, and the CSP forbids inline style attributes. Each icon is decorative
 * (aria-hidden): the text label next to it carries the meaning, and the shape differs
 * by severity so colour is never the only signal.
 */
import type { DeviceView, Severity } from '../../agent/src/server/dashboard-protocol.ts';

const SVG_NS = 'http://www.w3.org/2000/svg';

interface Shape {
  readonly tag: 'path' | 'circle';
  readonly attrs: Readonly<Record<string, string>>;
  /** CSS class; `icon-mark` draws the glyph inside a filled shape in the background colour. */
  readonly className?: string;
}

function svg(className: string, shapes: readonly Shape[]): SVGSVGElement {
  const root = document.createElementNS(SVG_NS, 'svg');
  root.setAttribute('viewBox', '0 0 24 24');
  root.setAttribute('aria-hidden', 'true');
  root.setAttribute('focusable', 'false');
  root.setAttribute('class', `icon ${className}`);
  for (const shape of shapes) {
    const node = document.createElementNS(SVG_NS, shape.tag);
    for (const [name, value] of Object.entries(shape.attrs)) node.setAttribute(name, value);
    if (shape.className !== undefined) node.setAttribute('class', shape.className);
    root.append(node);
  }
  return root;
}

const EXCLAMATION = (top: number, bottom: number): Shape => ({
  tag: 'path',
  attrs: { d: `M10.8 ${top}h2.4v${bottom - top}h-2.4z M10.8 ${bottom + 1.6}h2.4v2.4h-2.4z` },
  className: 'icon-mark',
});

const SEVERITY_SHAPES: Readonly<Record<Severity, readonly Shape[]>> = {
  // Octagon, like a stop sign.
  critical: [
    { tag: 'path', attrs: { d: 'M7.9 1.5h8.2l6.4 6.4v8.2l-6.4 6.4H7.9l-6.4-6.4V7.9z' }, className: 'icon-fill' },
    EXCLAMATION(5.5, 13.5),
  ],
  // Triangle.
  high: [
    { tag: 'path', attrs: { d: 'M12 1.5 23.2 21.8H.8z' }, className: 'icon-fill' },
    EXCLAMATION(8, 15),
  ],
  // Diamond.
  warning: [
    { tag: 'path', attrs: { d: 'M12 .8 23.2 12 12 23.2.8 12z' }, className: 'icon-fill' },
    EXCLAMATION(6, 12.6),
  ],
  // Circle with an "i".
  info: [
    { tag: 'circle', attrs: { cx: '12', cy: '12', r: '11' }, className: 'icon-fill' },
    { tag: 'path', attrs: { d: 'M10.8 10h2.4v8h-2.4z M10.8 5.6h2.4V8h-2.4z' }, className: 'icon-mark' },
  ],
};

export function severityIcon(severity: Severity): SVGSVGElement {
  return svg(`icon-severity icon-${severity}`, SEVERITY_SHAPES[severity]);
}

const PROFILE_SHAPES: Readonly<Record<DeviceView['profile'], readonly Shape[]>> = {
  // A drip bag, its line, and the pump body.
  'infusion-pump': [
    { tag: 'path', attrs: { d: 'M8 1.8h8v6.4a4 4 0 0 1-8 0z' }, className: 'icon-stroke' },
    { tag: 'path', attrs: { d: 'M12 12.2v3.2' }, className: 'icon-stroke' },
    { tag: 'path', attrs: { d: 'M5.5 15.4h13v6.8h-13z M8.5 18.8h4' }, className: 'icon-stroke' },
  ],
  // A heart with a pacing spike.
  'pacemaker-programmer': [
    { tag: 'path', attrs: { d: 'M12 21.2s-9-5.6-9-12A5 5 0 0 1 12 6a5 5 0 0 1 9 3.2c0 6.4-9 12-9 12z' }, className: 'icon-stroke' },
    { tag: 'path', attrs: { d: 'M4 12.4h4.4l1.6-3 2.6 6 1.6-3H20' }, className: 'icon-stroke' },
  ],
};

export function profileIcon(profile: DeviceView['profile']): SVGSVGElement {
  const shapes = PROFILE_SHAPES[profile] ?? PROFILE_SHAPES['infusion-pump'];
  return svg(`icon-profile icon-${profile}`, shapes);
}
