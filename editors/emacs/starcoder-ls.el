;;; starcoder-ls.el --- StarCoder completions through Eglot -*- lexical-binding: t; -*-

;; Version: 0.1.0
;; Package-Requires: ((emacs "28.1") (eglot "1.9"))
;; Keywords: languages, tools, completion
;; SPDX-License-Identifier: Apache-2.0

;;; Commentary:

;; Registers starcoder-ls, this repository's language server, with Eglot.
;; Eglot has no inline ("ghost text") completion, so the suggestions come
;; through the server's `textDocument/completion' and `completion-at-point'
;; (C-M-i, or company / corfu on top of it): each suggestion is one
;; candidate, inserted whole by Eglot.
;;
;;   (add-to-list 'load-path "/path/to/starcoder-ls/editors/emacs")
;;   (require 'starcoder-ls)
;;   (starcoder-ls-eglot-setup)            ; for `starcoder-ls-modes'
;;   (add-hook 'python-mode-hook #'eglot-ensure)
;;
;; Eglot runs one server per buffer.  `starcoder-ls-eglot-setup' puts
;; starcoder-ls first for `starcoder-ls-modes', so it replaces the language's
;; own server there.  To keep that server too, run both behind the
;; rassumfrassum multiplexer (`pip install rassumfrassum'), by Eglot's author:
;;
;;   (setq starcoder-ls-companion-servers '((python-mode . ("pylsp"))))
;;
;; which starts "rass -- pylsp -- starcoder-ls" for Python buffers.

;;; Code:

(require 'cl-lib)
(require 'eglot)
(require 'jsonrpc)

(defgroup starcoder-ls nil
  "AI code completions from StarCoder-family models, through Eglot."
  :group 'eglot
  :prefix "starcoder-ls-")

(defconst starcoder-ls--repository
  (let ((here (or load-file-name buffer-file-name)))
    (and here
         ;; This file is <repo>/editors/emacs/starcoder-ls.el.
         (file-name-directory
          (directory-file-name
           (file-name-directory
            (directory-file-name (file-name-directory here)))))))
  "The starcoder-ls repository this file lives in, if any.")

(defun starcoder-ls--default-program ()
  "The repository's .venv/bin/starcoder-ls if it exists, else starcoder-ls."
  (let ((venv (and starcoder-ls--repository
                   (expand-file-name ".venv/bin/starcoder-ls"
                                     starcoder-ls--repository))))
    (if (and venv (file-executable-p venv)) venv "starcoder-ls")))

(defcustom starcoder-ls-program (starcoder-ls--default-program)
  "The starcoder-ls executable."
  :type 'string)

(defcustom starcoder-ls-args nil
  "Extra arguments, e.g. (\"--model\" \"bigcode/starcoder\")."
  :type '(repeat string))

(defcustom starcoder-ls-initialization-options '(:debounceMs 0)
  "Server settings sent as `initializationOptions': a plist, camelCase keys.
Emacs asks for completions only when told to: no typing to debounce."
  :type 'plist)

(defcustom starcoder-ls-modes
  '(python-mode python-ts-mode js-mode js-ts-mode typescript-mode
    typescript-ts-mode c-mode c-ts-mode c++-mode c++-ts-mode java-mode
    java-ts-mode go-mode go-ts-mode rust-mode rust-ts-mode ruby-mode
    ruby-ts-mode sh-mode bash-ts-mode lua-mode emacs-lisp-mode)
  "Major modes whose buffers `starcoder-ls-eglot-setup' gives to starcoder-ls."
  :type '(repeat symbol))

(defcustom starcoder-ls-companion-servers nil
  "Language servers to keep beside starcoder-ls, by major mode.
An alist of (MAJOR-MODE . (PROGRAM ARGS...)).  For those modes Eglot
starts the rassumfrassum multiplexer (`starcoder-ls-multiplexer'), which
runs the language's server and starcoder-ls together and merges their
answers."
  :type '(alist :key-type symbol :value-type (repeat string)))

(defcustom starcoder-ls-multiplexer "rass"
  "The rassumfrassum executable, for `starcoder-ls-companion-servers'."
  :type 'string)

(defvar starcoder-ls-last-status nil
  "The last `starcoder/status' from the server: a plist (:state :model ...).")

(defun starcoder-ls-command (&optional mode)
  "The command line that serves MODE's buffers (default: `major-mode')."
  (let ((companion (alist-get (or mode major-mode)
                              starcoder-ls-companion-servers)))
    (if companion
        `(,starcoder-ls-multiplexer "--" ,@companion
                                    "--" ,starcoder-ls-program
                                    ,@starcoder-ls-args)
      `(,starcoder-ls-program ,@starcoder-ls-args))))

(defun starcoder-ls-contact (&optional _interactive)
  "Eglot contact for starcoder-ls: command line and initializationOptions."
  `(,@(starcoder-ls-command)
    :initializationOptions ,starcoder-ls-initialization-options))

;;;###autoload
(defun starcoder-ls-eglot-setup ()
  "Make Eglot use starcoder-ls for `starcoder-ls-modes', ahead of others."
  (setq eglot-server-programs
        (cons (cons starcoder-ls-modes #'starcoder-ls-contact)
              (cl-remove #'starcoder-ls-contact eglot-server-programs
                         :key #'cdr))))

(defun starcoder-ls--server ()
  "The Eglot server of the current buffer."
  (or (eglot-current-server) (user-error "No Eglot server in this buffer")))

(defun starcoder-ls--status ()
  "Ask the server for its status."
  (jsonrpc-request (starcoder-ls--server) :workspace/executeCommand
                   '(:command "starcoder.status" :arguments [])))

(defun starcoder-ls-status ()
  "Show the state of the model: loading, ready, error or disabled."
  (interactive)
  (let* ((status (starcoder-ls--status))
         (text (plist-get status :message)))
    (setq starcoder-ls-last-status status)
    (message "starcoder-ls: %s %s%s"
             (plist-get status :model) (plist-get status :state)
             (if (and text (not (string-empty-p text))) (concat ": " text) ""))
    status))

(defun starcoder-ls-toggle ()
  "Turn the completions of the current buffer's starcoder-ls off or on."
  (interactive)
  (let ((enable (equal (plist-get (starcoder-ls--status) :state) "disabled")))
    (jsonrpc-notify
     (starcoder-ls--server) :workspace/didChangeConfiguration
     `(:settings (:starcoder (:enabled ,(if enable t :json-false)))))
    (message "starcoder-ls: completions %s" (if enable "on" "off"))))

(cl-defmethod eglot-handle-notification
  (_server (_method (eql starcoder/status))
           &rest status &key state model message &allow-other-keys)
  "Keep the last STATUS; warn when the model could not be loaded.
STATE, MODEL and MESSAGE are its fields."
  (let ((was (plist-get starcoder-ls-last-status :state)))
    (setq starcoder-ls-last-status status)
    (when (and (equal state "error") (not (equal was "error")))
      (display-warning 'starcoder-ls
                       (format "could not load %s: %s" model message)))))

(provide 'starcoder-ls)
;;; starcoder-ls.el ends here
