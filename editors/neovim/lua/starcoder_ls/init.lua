-- starcoder-ls for Neovim 0.7 to 0.10, without nvim-lspconfig.
--
--   require('starcoder_ls').setup()                         -- every file buffer
--   require('starcoder_ls').setup({ filetypes = { 'python', 'lua' } })
--
-- The configuration itself is the one of lsp/starcoder_ls.lua (what Neovim 0.11+ reads
-- for vim.lsp.enable), so all versions start the same server with the same options.
-- Completion comes through 'omnifunc' (<C-x><C-o>) or nvim-cmp's LSP source.
local M = {}

--- The table lsp/starcoder_ls.lua returns: cmd, root_markers, init_options, handlers, on_attach.
function M.config()
  local file = vim.api.nvim_get_runtime_file('lsp/starcoder_ls.lua', false)[1]
  if not file then
    error('starcoder_ls: lsp/starcoder_ls.lua is not on runtimepath (add editors/neovim to it)')
  end
  return dofile(file)
end

--- Sets omnifunc and the :StarcoderStatus / :StarcoderToggle commands; call it from your
--- own on_attach if you pass one.
function M.on_attach(client, bufnr)
  return M.config().on_attach(client, bufnr)
end

local function root_of(file, markers)
  local dir = vim.fn.fnamemodify(file, ':p:h')
  for _, marker in ipairs(markers or {}) do
    local found = vim.fn.finddir(marker, dir .. ';')
    if found == '' then
      found = vim.fn.findfile(marker, dir .. ';')
    end
    if found ~= '' then
      return vim.fn.fnamemodify(found, ':p:h:h')
    end
  end
  return dir
end

local clients_by_root = {}

--- Starts (or reuses) the server for one buffer.
function M.attach(bufnr, config)
  if vim.bo[bufnr].buftype ~= '' then
    return nil
  end
  local file = vim.api.nvim_buf_get_name(bufnr)
  if file == '' then
    return nil
  end
  config = vim.tbl_extend('force', {}, config)
  config.name = config.name or 'starcoder_ls'
  config.root_dir = config.root_dir or root_of(file, config.root_markers)
  config.root_markers = nil
  if vim.lsp.start then -- 0.8+
    return vim.lsp.start(config, { bufnr = bufnr })
  end
  local id = clients_by_root[config.root_dir]
  if not (id and vim.lsp.get_client_by_id(id)) then
    id = vim.lsp.start_client(config)
    clients_by_root[config.root_dir] = id
  end
  if id then
    vim.lsp.buf_attach_client(bufnr, id)
  end
  return id
end

--- Starts the server for every buffer of `filetypes` (default: all file buffers).
--- `overrides` replaces fields of the configuration (cmd, init_options, on_attach, ...).
function M.setup(overrides)
  local config = vim.tbl_extend('force', M.config(), overrides or {})
  local filetypes = config.filetypes
  config.filetypes = nil
  local group = vim.api.nvim_create_augroup('starcoder_ls', { clear = true })
  vim.api.nvim_create_autocmd('FileType', {
    group = group,
    pattern = filetypes or '*',
    callback = function(args)
      M.attach(args.buf, config)
    end,
  })
end

return M
