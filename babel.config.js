// Babel is only used by jest to transpile the ES modules shipped by JupyterLab.
module.exports = require('@jupyterlab/testutils/lib/babel.config');
