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

local function clients_of(bufnr)
  if vim.lsp.get_clients then -- 0.10+
    return vim.lsp.get_clients({ bufnr = bufnr, name = 'starcoder_ls' })
  end
  local found = {}
  for _, client in pairs(vim.lsp.buf_get_clients(bufnr)) do
    if client.name == 'starcoder_ls' then
      table.insert(found, client)
    end
  end
  return found
end

--- Sends `starcoder/didFocus` with the cursor of the current window's buffer, so that the
--- server prefills the prompt there before the first key (its `warmOnFocus` setting).
function M.focus(bufnr)
  if bufnr ~= vim.api.nvim_get_current_buf() then
    return
  end
  for _, client in ipairs(clients_of(bufnr)) do
    local params = vim.lsp.util.make_position_params(0, client.offset_encoding)
    if vim.fn.has('nvim-0.11') == 1 then
      client:notify('starcoder/didFocus', params)
    else
      client.notify('starcoder/didFocus', params)
    end
  end
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
  -- Entering a buffer (and, 0.8+, the server attaching to it) warms the server's cache.
  local focus = function(args)
    M.focus(args.buf)
  end
  vim.api.nvim_create_autocmd('BufEnter', { group = group, callback = focus })
  pcall(vim.api.nvim_create_autocmd, 'LspAttach', { group = group, callback = focus })
end

return M
