/**
 * A QR code drawn as SVG nodes, for the authenticator enrolment (the otpauth:// URI that
 * apps scan). The strict Content-Security-Policy (agent/src/server/http-io.ts) allows no
 * inline style and no image but from the agent itself; SVG elements made with
 * createElementNS and presentation attributes need neither, so the policy stays as it is.
 *
 * The symbol comes from `uqr` (Nayuki's QR Code generator, ISO/IEC 18004): error
 * correction level M (15 %), as authenticator apps' own examples use, and the 4-module
 * light quiet zone the standard asks for round the symbol (ISO/IEC 18004:2015 §6.3.8),
 * drawn here as part of the image so that the dark page around it does not eat into it.
 * Dark on light whatever the theme: reading a reversed (light-on-dark) symbol is an
 * optional feature of readers (§6.2), so the page's dark theme must not reach it.
 */
import { encode } from 'uqr';

const SVG_NS = 'http://www.w3.org/2000/svg';
/** ISO/IEC 18004:2015 §6.3.8: a quiet zone of 4 modules on every side. */
const QUIET_ZONE_MODULES = 4;

/** One path for all dark modules, a horizontal run of them per subpath: a few kilobytes instead of thousands of nodes. */
function darkModulesPath(modules: readonly (readonly boolean[])[]): string {
  const parts: string[] = [];
  modules.forEach((row, y) => {
    let x = 0;
    while (x < row.length) {
      if (row[x] !== true) {
        x++;
        continue;
      }
      const start = x;
      while (row[x] === true) x++;
      parts.push(`M${start} ${y}h${x - start}v1h${start - x}z`);
    }
  });
  return parts.join('');
}

/** The QR code of `text` as an <svg> (scaled by CSS), labelled for screen readers with `label`. */
export function qrCodeSvg(text: string, label: string): SVGSVGElement {
  const symbol = encode(text, { ecc: 'M', border: QUIET_ZONE_MODULES });
  const root = document.createElementNS(SVG_NS, 'svg');
  root.setAttribute('viewBox', `0 0 ${symbol.size} ${symbol.size}`);
  root.setAttribute('role', 'img');
  root.setAttribute('aria-label', label);
  root.setAttribute('shape-rendering', 'crispEdges');
  root.setAttribute('class', 'qr-code');
  const light = document.createElementNS(SVG_NS, 'rect');
  light.setAttribute('width', String(symbol.size));
  light.setAttribute('height', String(symbol.size));
  light.setAttribute('fill', '#ffffff');
  const dark = document.createElementNS(SVG_NS, 'path');
  dark.setAttribute('d', darkModulesPath(symbol.data));
  dark.setAttribute('fill', '#000000');
  root.append(light, dark);
  return root;
}
