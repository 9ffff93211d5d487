-- starcoder-ls as an nvim-lspconfig server, for Neovim before 0.11:
--
--   require('starcoder_ls.lspconfig').register()
--   require('lspconfig').starcoder_ls.setup({
--     -- with nvim-cmp: capabilities = require('cmp_nvim_lsp').default_capabilities(),
--   })
--
-- Completions then come through nvim-cmp's LSP source, or through 'omnifunc'
-- (<C-x><C-o>), which the default on_attach sets. Passing your own on_attach replaces it;
-- call require('starcoder_ls').on_attach(client, bufnr) from yours to keep it.
local M = {}

function M.register()
  local configs = require('lspconfig.configs')
  if configs.starcoder_ls then
    return
  end
  local util = require('lspconfig.util')
  local base = require('starcoder_ls').config()
  configs.starcoder_ls = {
    default_config = {
      cmd = base.cmd,
      filetypes = base.filetypes,
      root_dir = util.root_pattern(unpack(base.root_markers)),
      single_file_support = true,
      init_options = base.init_options,
      handlers = base.handlers,
      on_attach = base.on_attach,
      settings = {},
    },
    docs = {
      description = 'starcoder-ls: AI code completions from StarCoder-family models.',
    },
  }
end

return M
