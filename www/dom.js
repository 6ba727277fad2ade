// Building DOM nodes: the one helper the page's modules share.

/**
 * A new `tag` element with `attributes` (`text` sets its text content) and
 * `children` appended.
 */
export function element(tag, attributes = {}, children = []) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === 'text') node.textContent = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}
