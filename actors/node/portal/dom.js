// Building the page without markup: every text, whoever wrote it (a task's title, a reason, a CSV
// cell), becomes a text node and is never parsed as HTML. The node's Content-Security-Policy forbids
// inline scripts and styles; this module is why the portal needs neither.

/// An element: h('a', {href: '#/ctas', class: 'x'}, 'text', child). Attributes named on* take a
/// function (an event listener); strings and numbers among the children become text nodes, arrays
/// are flattened, and null, undefined and false are left out.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false)
      continue;
    if (name.startsWith('on')) {
      if (typeof value !== 'function')
        throw new TypeError(`${name} needs a function`);
      el.addEventListener(name.slice(2), value);
    } else if (name === 'style') {
      throw new TypeError('no inline styles: the CSP forbids them; use a class');
    } else {
      el.setAttribute(name, value === true ? '' : String(value));
    }
  }
  add(el, children);
  return el;
}

/// Appends `children` (as h() takes them) to `el`.
function add(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false)
      continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

/// A unique id for a form control and its label.
let counter = 0;
export function uid(prefix) {
  counter += 1;
  return `${prefix}-${counter}`;
}
