-- Drives starcoder-ls through Neovim's own LSP client, headless, and writes what it saw
-- to $STARCODER_RESULT as JSON for tests/editors/test_neovim.py to judge.
--
-- Run after the README's snippet (nvim --cmd 'luafile snippet.lua' -c 'luafile driver.lua').
-- $STARCODER_MODE   'enable': Neovim 0.11+ (lsp/starcoder_ls.lua + vim.lsp.enable)
--                   'setup':  Neovim 0.7-0.10 (require('starcoder_ls').setup())
-- $STARCODER_ARGS   JSON list of extra server arguments (--model, --log-file)
-- $STARCODER_INIT   JSON object of initializationOptions to add
-- $STARCODER_FILE   file to edit; the cursor goes to the end of $STARCODER_LINE (1-based)
-- $STARCODER_TIMEOUT_MS  how long to wait for the model and each request
local env = vim.env
local result = { version = vim.version() }
local timeout = tonumber(env.STARCODER_TIMEOUT_MS or '120000')

local function decode(text, default)
  if text == nil or text == '' then
    return default
  end
  return vim.fn.json_decode(text)
end

local function method(client, name, ...)
  if vim.fn.has('nvim-0.11') == 1 then
    return client[name](client, ...)
  end
  return client[name](...)
end

local function clients_of(bufnr)
  if vim.lsp.get_clients then
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

local function request(client, bufnr, name, params)
  local response, err = method(client, 'request_sync', name, params, timeout, bufnr)
  if not response then
    error(('%s: no response (%s)'):format(name, tostring(err)))
  end
  if response.err then
    error(('%s: %s'):format(name, vim.inspect(response.err)))
  end
  return response.result
end

-- The README's snippet has already run (--cmd); this adds the test's server arguments and
-- options on top, the way a user's own overrides would.
local function configure(args, init)
  if env.STARCODER_MODE == 'enable' then
    assert(vim.lsp.is_enabled == nil or vim.lsp.is_enabled('starcoder_ls'), 'starcoder_ls is not enabled')
    local default = vim.lsp.config.starcoder_ls
    result.default_cmd = default.cmd
    result.default_init_options = default.init_options
    vim.lsp.config('starcoder_ls', {
      cmd = vim.list_extend(vim.deepcopy(default.cmd), args),
      init_options = init,
    })
  else
    assert(#vim.api.nvim_get_autocmds({ group = 'starcoder_ls' }) > 0, 'setup() made no autocmd')
    local default = require('starcoder_ls').config()
    result.default_cmd = default.cmd
    result.default_init_options = default.init_options
    require('starcoder_ls').setup({
      cmd = vim.list_extend(vim.deepcopy(default.cmd), args),
      init_options = vim.tbl_extend('force', default.init_options, init),
    })
  end
end

local function main()
  configure(decode(env.STARCODER_ARGS, {}), decode(env.STARCODER_INIT, {}))
  vim.cmd('edit ' .. vim.fn.fnameescape(env.STARCODER_FILE))
  local bufnr = vim.api.nvim_get_current_buf()
  result.filetype = vim.bo[bufnr].filetype

  local client
  vim.wait(timeout, function()
    client = clients_of(bufnr)[1]
    return client ~= nil and client.initialized ~= false
  end, 50)
  assert(client, 'starcoder_ls never attached to the buffer')
  result.client_name = client.name
  result.cmd = client.config.cmd
  result.init_options = client.config.init_options
  result.omnifunc = vim.bo[bufnr].omnifunc
  result.has_status_handler = client.config.handlers ~= nil
    and client.config.handlers['starcoder/status'] ~= nil
  result.commands = {
    status = vim.fn.exists(':StarcoderStatus') == 2,
    toggle = vim.fn.exists(':StarcoderToggle') == 2,
  }
  local caps = client.server_capabilities or client.resolved_capabilities
  result.completion_provider = caps.completionProvider ~= nil
  result.inline_completion_provider = caps.inlineCompletionProvider ~= nil

  local status
  vim.wait(timeout, function()
    status = request(client, bufnr, 'workspace/executeCommand', { command = 'starcoder.status' })
    return status.state == 'ready' or status.state == 'error'
  end, 200)
  result.status = status
  assert(status.state == 'ready', 'model not ready: ' .. vim.inspect(status))

  local row = tonumber(env.STARCODER_LINE) - 1
  local line = vim.api.nvim_buf_get_lines(bufnr, row, row + 1, true)[1]
  local params = {
    textDocument = { uri = vim.uri_from_bufnr(bufnr) },
    position = { line = row, character = #line },
  }

  local completion = request(client, bufnr, 'textDocument/completion', vim.tbl_extend('force', params, {
    context = { triggerKind = 1 },
  }))
  result.completion = completion
  local items = completion and (completion.items or completion) or {}
  if items[1] and items[1].textEdit then
    vim.lsp.util.apply_text_edits({ items[1].textEdit }, bufnr, client.offset_encoding)
    result.completed_lines = vim.api.nvim_buf_get_lines(bufnr, 0, -1, true)
    vim.api.nvim_buf_set_lines(bufnr, row, row + 1, true, { line }) -- undo, for the next request
  end

  result.inline = request(client, bufnr, 'textDocument/inlineCompletion', vim.tbl_extend('force', params, {
    context = { triggerKind = 1 },
  }))
end

local function finish(ok)
  local out = io.open(env.STARCODER_RESULT, 'w')
  out:write(vim.fn.json_encode(result))
  out:close()
  vim.cmd(ok and 'qall!' or 'cquit! 3')
end

local function keys(text)
  vim.api.nvim_feedkeys(vim.api.nvim_replace_termcodes(text, true, false, true), 'n', false)
end

-- What a user does: append to the line, <C-x><C-o>, take the first match with <C-y>.
-- The LSP omnifunc answers asynchronously, so this runs from the main loop, not inline.
local function omnifunc_phase()
  local bufnr = vim.api.nvim_get_current_buf()
  local row = tonumber(env.STARCODER_LINE)
  vim.api.nvim_win_set_cursor(0, { row, 0 })
  keys('A<C-x><C-o>')
  local deadline = vim.loop.now() + timeout
  local timer = vim.loop.new_timer()
  local stage = 'waiting'
  timer:start(100, 100, vim.schedule_wrap(function()
    local ok, err = pcall(function()
      if stage == 'waiting' then
        local info = vim.fn.complete_info({ 'items', 'selected', 'mode' })
        if #info.items > 0 then
          result.omnifunc_menu = info
          result.omnifunc_mode = vim.api.nvim_get_mode().mode
          stage = 'accepted'
          keys('<C-y><Esc>')
        elseif vim.loop.now() > deadline then
          error('no completion menu after <C-x><C-o> (mode ' .. vim.api.nvim_get_mode().mode .. ')')
        end
      elseif stage == 'accepted' and vim.api.nvim_get_mode().mode == 'n' then
        stage = 'done'
        result.omnifunc_line = vim.api.nvim_buf_get_lines(bufnr, row - 1, row, true)[1]
      end
    end)
    if not ok or stage == 'done' then
      timer:stop()
      timer:close()
      if not ok then
        result.error = err
      end
      finish(ok)
    end
  end))
end

local ok, err = xpcall(main, debug.traceback)
if not ok then
  result.error = err
  finish(false)
elseif env.STARCODER_OMNIFUNC == '1' then
  omnifunc_phase()
else
  finish(true)
end
