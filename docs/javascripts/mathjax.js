// MathJax 3 settings for pymdownx.arithmatex (generic mode): it wraps math in
// <span class="arithmatex">\( ... \)</span> and <div class="arithmatex">\[ ... \]</div>;
// MathJax typesets only those elements. MathJax itself is served from assets/mathjax/
// (copied from the django-static-mathjax package at build time), never from a CDN.
window.MathJax = {
  tex: {
    inlineMath: [["\\(", "\\)"]],
    displayMath: [["\\[", "\\]"]],
    processEscapes: true,
    processEnvironments: true
  },
  options: {
    ignoreHtmlClass: ".*|",
    processHtmlClass: "arithmatex"
  }
};
