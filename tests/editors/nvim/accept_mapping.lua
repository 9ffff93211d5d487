-- The <Tab> mapping lsp/starcoder_ls.lua sets on Neovim 0.12+, checked in a real Neovim.
--
-- vim.lsp.inline_completion is new in 0.12 and the newest Neovim installable here is
-- 0.11, so a stand-in with the functions the mapping calls (enable, get, select; same
-- signatures as 0.12's) takes its place. This checks our mapping, not Neovim's module:
-- the inline request itself is checked through Neovim's client in driver.lua.
local env = vim.env
local result = {}
local suggestion = false
local calls = { get = 0, enable = {}, select = {} }

vim.lsp.inline_completion = {
  enable = function(enable, filter)
    table.insert(calls.enable, { enable = enable, filter = filter })
  end,
  get = function()
    calls.get = calls.get + 1
    return suggestion -- 0.12: true when a suggestion was there (and is being inserted)
  end,
  select = function(opts)
    table.insert(calls.select, opts)
  end,
}

local function keys(text)
  vim.api.nvim_feedkeys(vim.api.nvim_replace_termcodes(text, true, false, true), 'x', false)
end

local ok, err = pcall(function()
  local config = dofile(vim.api.nvim_get_runtime_file('lsp/starcoder_ls.lua', false)[1])
  local client = {
    id = 1,
    name = 'starcoder_ls',
    supports_method = function(_, method)
      return method == 'textDocument/inlineCompletion'
    end,
    notify = function() end,
  }
  vim.cmd('enew')
  local bufnr = vim.api.nvim_get_current_buf()
  vim.bo[bufnr].expandtab = false
  config.on_attach(client, bufnr)
  result.enable_calls = calls.enable
  result.bufnr = bufnr
  local map = vim.fn.maparg('<Tab>', 'i', false, true)
  result.tab_map = { buffer = map.buffer, expr = map.expr, desc = map.desc }

  suggestion = false
  keys('ix<Tab>y<Esc>')
  result.without_suggestion = vim.api.nvim_buf_get_lines(bufnr, 0, 1, true)[1]
  result.get_calls_without = calls.get

  suggestion = true
  keys('ox<Tab>y<Esc>')
  result.with_suggestion = vim.api.nvim_buf_get_lines(bufnr, 1, 2, true)[1]
  result.get_calls_with = calls.get

  keys('a<M-]><M-[><Esc>')
  result.select_calls = calls.select
  result.commands = {
    status = vim.fn.exists(':StarcoderStatus') == 2,
    toggle = vim.fn.exists(':StarcoderToggle') == 2,
  }

  -- vim.g.starcoder_ls_accept_key = false: no mapping (the user maps get() themselves).
  vim.cmd('enew')
  vim.g.starcoder_ls_accept_key = false
  config.on_attach(client, vim.api.nvim_get_current_buf())
  result.tab_map_when_disabled = vim.fn.maparg('<Tab>', 'i', false, true).buffer or 0
end)
if not ok then
  result.error = err
end
local out = io.open(env.STARCODER_RESULT, 'w')
out:write(vim.fn.json_encode(result))
out:close()
vim.cmd(ok and 'qall!' or 'cquit! 3')
